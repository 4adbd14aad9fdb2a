"""Enrollment token tags: the tags a gateway gets when it enrolls with the token.

Revision ID: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing tokens get none: they enroll exactly as before.
    with op.batch_alter_table("enroll_tokens") as batch:
        batch.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("enroll_tokens") as batch:
        batch.drop_column("tags")
