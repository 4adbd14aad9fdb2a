"""Tables. SQLAlchemy Core keeps the hot ingest path close to executemany speed."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

gateways = Table(
    "gateways",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("state", String(16), nullable=False, default="unknown"),
    Column("state_reason", String(32), nullable=False, default=""),
    Column("session", Integer, nullable=False, default=0),
    Column("agent_version", String(64), nullable=False, default=""),
    Column("config_version", Integer, nullable=False, default=0),
    Column("keepalive_s", Integer, nullable=False, default=60),
    Column("health_interval_s", Float, nullable=False, default=60.0),
    Column("inventory", JSON, nullable=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("state_since", Float, nullable=False),
    Column("last_health", JSON, nullable=True),
    Column("last_health_ts", Float, nullable=True),
    Column("last_seq", Integer, nullable=False, default=0),
)

messages = Table(
    "messages",
    metadata,
    Column("msg_id", String(32), primary_key=True),
    Column("gateway_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("topic", Text, nullable=False),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("historical", Boolean, nullable=False),
    # The envelope exactly as received (JSON text): storing it unparsed keeps ingest cheap, and
    # SQLite's json_extract / PostgreSQL's ->> still reach inside it.
    Column("envelope", Text, nullable=False),
)
Index("messages_gw_seq", messages.c.gateway_id, messages.c.seq)
Index("messages_received", messages.c.received_at)

rejections = Table(
    "rejections",
    metadata,
    Column("reason", String(32), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_detail", Text, nullable=False),
    Column("last_topic", Text, nullable=False),
    Column("last_at", Float, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)
