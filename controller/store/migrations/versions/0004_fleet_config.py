"""Fleet configuration: layers, audit, gateway sites, desired versions, history, reports.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    op.create_table(
        "config_layers",
        sa.Column("scope", sa.String(160), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "config_audit",
        _id(),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(160), nullable=False),
        sa.Column("layer_version", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=True),
    )
    op.create_index("config_audit_scope", "config_audit", ["scope", "layer_version"])
    op.create_table(
        "gateway_sites",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
    )
    op.create_table(
        "gateway_config",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "gateway_config_history",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("layers", sa.Text, nullable=False),
    )
    op.create_table(
        "gateway_config_reported",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("reported_version", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("gateway_config_reported", "gateway_config_history", "gateway_config"):
        op.drop_table(table)
    op.drop_table("gateway_sites")
    op.drop_index("config_audit_scope", "config_audit")
    op.drop_table("config_audit")
    op.drop_table("config_layers")
