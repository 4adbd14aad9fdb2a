"""Fault containment: 64-bit wire integers, the quarantine (dead letters), service status.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_WIDENED = {
    "gateways": ("session", "config_version", "last_seq"),
    "messages": ("seq",),
    "rejections": ("count",),
    "counters": ("value",),
}


def upgrade() -> None:
    # SQLite's INTEGER is already 64-bit; rebuilding its tables would only cost time.
    if op.get_bind().dialect.name != "sqlite":
        for table, columns in _WIDENED.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    op.create_table(
        "quarantine",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("quarantine_at", "quarantine", ["at"])
    op.create_table(
        "service_status",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("since", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_status")
    op.drop_index("quarantine_at", "quarantine")
    op.drop_table("quarantine")
    if op.get_bind().dialect.name != "sqlite":
        for table, columns in _WIDENED.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
