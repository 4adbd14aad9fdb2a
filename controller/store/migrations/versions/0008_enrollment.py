"""Enrollment: single-use tokens (hashes only) and the certificates signed for gateways.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enroll_tokens",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("gateway_id", sa.String(64), nullable=True),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float, nullable=True),
        sa.Column("used_by", sa.String(64), nullable=True),
        sa.Column("used_from", sa.String(128), nullable=True),
        sa.Column("cancelled_at", sa.Float, nullable=True),
        sa.Column("cancelled_by", sa.String(128), nullable=True),
    )
    op.create_table(
        "gateway_certs",
        sa.Column("serial", sa.String(48), primary_key=True),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("token_id", sa.String(16), nullable=True),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("issued_at", sa.Float, nullable=False),
        sa.Column("not_after", sa.Float, nullable=False),
        sa.Column("superseded_at", sa.Float, nullable=True),
        sa.Column("revoked_at", sa.Float, nullable=True),
        sa.Column("revoked_by", sa.String(128), nullable=True),
        sa.Column("revoke_reason", sa.String(200), nullable=True),
    )
    op.create_index("gateway_certs_gw", "gateway_certs", ["gateway_id"])


def downgrade() -> None:
    op.drop_index("gateway_certs_gw", "gateway_certs")
    op.drop_table("gateway_certs")
    op.drop_table("enroll_tokens")
