"""add users

Revision ID: ae1027a6acf
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "ae1027a6acf"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("users")
