"""Retention keeps each gateway's newest messages by arrival: index for that query.

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("messages_gw_received", "messages", ["gateway_id", "received_at"])


def downgrade() -> None:
    op.drop_index("messages_gw_received", "messages")
