"""add orders

Revision ID: 1975ea83b712
Revises: ae1027a6acf
"""

import sqlalchemy as sa
from alembic import op

revision = "1975ea83b712"
down_revision = "ae1027a6acf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("total_cents", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("orders")
