"""Rollouts: the rollouts table and each rollout's gateways with their status.

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("release_url", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("bounds", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("rollouts_created", "rollouts", ["created_at"])
    op.create_table(
        "rollout_gateways",
        sa.Column("rollout_id", sa.String(16), primary_key=True),
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("progress", sa.Float, nullable=True),
        sa.Column("command_id", sa.String(32), nullable=True),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("rollout_gateways_gw", "rollout_gateways", ["gateway_id"])


def downgrade() -> None:
    op.drop_index("rollout_gateways_gw", "rollout_gateways")
    op.drop_table("rollout_gateways")
    op.drop_index("rollouts_created", "rollouts")
    op.drop_table("rollouts")
