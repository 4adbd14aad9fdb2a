"""Operators: edge events and snapshots indexed for reading, alerts with their journal and
comments, undeliverable notifications, users, tokens and the audit trail.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("agencies", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("snapshot_id", sa.BigInteger, nullable=True),
    )
    op.create_index("events_gw_received", "events", ["gateway_id", "received_at"])
    op.create_index("events_received", "events", ["received_at"])
    op.create_table(
        "snapshots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("agencies", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("jpeg", sa.LargeBinary, nullable=False),
    )
    op.create_index("snapshots_event", "snapshots", ["event_id"])
    op.create_index("snapshots_source_at", "snapshots", ["gateway_id", "source", "at"])
    op.create_table(
        "alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("device", sa.String(200), nullable=False),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("device_kind", sa.String(16), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("agencies", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("event_id", sa.String(32), nullable=True),
        sa.Column("snapshot_id", sa.BigInteger, nullable=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_at", sa.Float, nullable=False),
        sa.Column("last_at", sa.Float, nullable=False),
        sa.Column("acked_at", sa.Float, nullable=True),
        sa.Column("acked_by", sa.String(128), nullable=True),
        sa.Column("cleared_at", sa.Float, nullable=True),
        sa.Column("cleared_by", sa.String(128), nullable=True),
        sa.Column("closed_at", sa.Float, nullable=True),
        sa.Column("escalation", sa.Integer, nullable=False),
        sa.Column("escalated_at", sa.Float, nullable=True),
        sa.Column("flapping", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("alerts_last", "alerts", ["last_at"])
    op.create_index("alerts_open_key", "alerts", ["device", "type", "is_open"])
    op.create_index("alerts_open_last", "alerts", ["is_open", "last_at"])
    op.create_index("alerts_open_id", "alerts", ["is_open", "id"])
    op.create_table(
        "alert_agencies",
        sa.Column("alert_id", sa.BigInteger, primary_key=True),
        sa.Column("agency", sa.String(64), primary_key=True),
    )
    op.create_index("alert_agencies_agency", "alert_agencies", ["agency", "alert_id"])
    op.create_table(
        "alert_journal",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("alert_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("agencies", sa.Text, nullable=False),
        sa.Column("alert", sa.Text, nullable=False),
    )
    op.create_index("alert_journal_alert", "alert_journal", ["alert_id"])
    op.create_table(
        "alert_comments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("alert_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("alert_comments_alert", "alert_comments", ["alert_id"])
    op.create_table(
        "notification_dead",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.BigInteger, nullable=False),
        sa.Column("journal_id", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("notification_dead_at", "notification_dead", ["at"])
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("all_agencies", sa.Boolean, nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "user_agencies",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("agency", sa.String(64), primary_key=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("last_used_at", sa.Float, nullable=True),
    )
    op.create_index("api_tokens_user", "api_tokens", ["username"])
    op.create_table(
        "audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
    )
    op.create_index("audit_at", "audit", ["at"])


def downgrade() -> None:
    op.drop_index("audit_at", table_name="audit")
    op.drop_index("api_tokens_user", table_name="api_tokens")
    op.drop_index("notification_dead_at", table_name="notification_dead")
    op.drop_index("alert_comments_alert", table_name="alert_comments")
    op.drop_index("alert_journal_alert", table_name="alert_journal")
    op.drop_index("alert_agencies_agency", table_name="alert_agencies")
    op.drop_index("alerts_open_id", table_name="alerts")
    op.drop_index("alerts_open_last", table_name="alerts")
    op.drop_index("alerts_open_key", table_name="alerts")
    op.drop_index("alerts_last", table_name="alerts")
    op.drop_index("snapshots_source_at", table_name="snapshots")
    op.drop_index("snapshots_event", table_name="snapshots")
    op.drop_index("events_received", table_name="events")
    op.drop_index("events_gw_received", table_name="events")
    op.drop_table("audit")
    op.drop_table("api_tokens")
    op.drop_table("user_agencies")
    op.drop_table("users")
    op.drop_table("notification_dead")
    op.drop_table("alert_comments")
    op.drop_table("alert_journal")
    op.drop_table("alert_agencies")
    op.drop_table("alerts")
    op.drop_table("snapshots")
    op.drop_table("events")
