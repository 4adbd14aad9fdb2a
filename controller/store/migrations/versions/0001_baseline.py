"""Baseline: the schema as the controller created it before migrations existed.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.String(32), nullable=False),
        sa.Column("session", sa.Integer, nullable=False),
        sa.Column("agent_version", sa.String(64), nullable=False),
        sa.Column("config_version", sa.Integer, nullable=False),
        sa.Column("keepalive_s", sa.Integer, nullable=False),
        sa.Column("health_interval_s", sa.Float, nullable=False),
        sa.Column("inventory", sa.JSON, nullable=True),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("state_since", sa.Float, nullable=False),
        sa.Column("last_health", sa.JSON, nullable=True),
        sa.Column("last_health_ts", sa.Float, nullable=True),
        sa.Column("last_seq", sa.Integer, nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("msg_id", sa.String(32), primary_key=True),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("historical", sa.Boolean, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
    )
    op.create_index("messages_gw_seq", "messages", ["gateway_id", "seq"])
    op.create_index("messages_received", "messages", ["received_at"])
    op.create_table(
        "rejections",
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("last_detail", sa.Text, nullable=False),
        sa.Column("last_topic", sa.Text, nullable=False),
        sa.Column("last_at", sa.Float, nullable=False),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("counters", "rejections", "messages", "gateways"):
        op.drop_table(table)
