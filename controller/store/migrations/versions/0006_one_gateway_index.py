"""History rows get one per-gateway index, by arrival (0003), not also one by sequence number:
every index is written on every insert, and the fourth cost ingest about a fifth of its commit
time. Per-gateway reads filter on the arrival index and sort the few rows they return.

Revision ID: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("messages_gw_seq", "messages")


def downgrade() -> None:
    op.create_index("messages_gw_seq", "messages", ["gateway_id", "seq"])
