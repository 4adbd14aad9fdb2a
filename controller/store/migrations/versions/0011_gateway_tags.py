"""Gateway tags: free-form labels on gateways, which rollouts can target.

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_tags",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("gateway_tags_tag", "gateway_tags", ["tag"])


def downgrade() -> None:
    op.drop_index("gateway_tags_tag", table_name="gateway_tags")
    op.drop_table("gateway_tags")
