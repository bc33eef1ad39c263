"""index user email

Revision ID: 27c6a30d7c24
Revises: 1975ea83b712
"""

from alembic import op

revision = "27c6a30d7c24"
down_revision = "1975ea83b712"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_users_email", "users", ["email"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_email", table_name="users")
