"""Tables. SQLAlchemy Core keeps the hot ingest path close to executemany speed.

Every change here ships with an Alembic migration in ``migrations/versions/`` (the store upgrades
a database to the newest revision when it opens it). Integers that come from the wire are
BIGINT: a sequence number past 2**31 must not fail on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
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
    Column("session", BigInteger, nullable=False, default=0),
    Column("agent_version", String(64), nullable=False, default=""),
    Column("config_version", BigInteger, nullable=False, default=0),
    Column("keepalive_s", Integer, nullable=False, default=60),
    Column("health_interval_s", Float, nullable=False, default=60.0),
    Column("inventory", JSON, nullable=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("state_since", Float, nullable=False),
    Column("last_health", JSON, nullable=True),
    Column("last_health_ts", Float, nullable=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
)

messages = Table(
    "messages",
    metadata,
    Column("msg_id", String(32), primary_key=True),
    Column("gateway_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("topic", Text, nullable=False),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("historical", Boolean, nullable=False),
    # The envelope exactly as received (JSON text): storing it unparsed keeps ingest cheap, and
    # SQLite's json_extract / PostgreSQL's ->> still reach inside it.
    Column("envelope", Text, nullable=False),
)
Index("messages_received", messages.c.received_at)
Index("messages_gw_received", messages.c.gateway_id, messages.c.received_at)

rejections = Table(
    "rejections",
    metadata,
    Column("reason", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("last_detail", Text, nullable=False),
    Column("last_topic", Text, nullable=False),
    Column("last_at", Float, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Dead letters: messages that failed on their own (decode, apply or storage), kept raw with the
# stage and reason for an operator, acknowledged so they never block or loop. Bounded by
# retention (``retention.max_quarantine_rows``).
quarantine = Table(
    "quarantine",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", Float, nullable=False),
    Column("gateway_id", String(64), nullable=False),
    Column("topic", Text, nullable=False),
    Column("stage", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)
Index("quarantine_at", quarantine.c.at)

# The controller's own workers (ingest, housekeeping ...): state, restarts, last error
# (redacted), written by the controller, read by `kendali fleet status`.
service_status = Table(
    "service_status",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("restarts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("since", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Fleet configuration (controller/config_store). Documents are JSON text with every
# ``password`` value encrypted; diffs are stored already masked.
# One row per layer: "fleet", "site:NAME" or "gateway:ID", with its optimistic-concurrency version.
config_layers = Table(
    "config_layers",
    metadata,
    Column("scope", String(160), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(128), nullable=False),
)

# Audit: one row per write (a layer version, a site assignment, a rollback), with the layer
# document as written so a layer can be rolled back.
config_audit = Table(
    "config_audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", Float, nullable=False),
    Column("who", String(128), nullable=False),
    Column("scope", String(160), nullable=False),
    Column("layer_version", BigInteger, nullable=True),
    Column("reason", Text, nullable=False),
    Column("diff", Text, nullable=False),
    Column("document", Text, nullable=True),
)
Index("config_audit_scope", config_audit.c.scope, config_audit.c.layer_version)

gateway_sites = Table(
    "gateway_sites",
    metadata,
    Column("gateway_id", String(64), primary_key=True),
    Column("site", String(64), nullable=False),
)

# Each gateway's desired (effective) configuration and its monotonically increasing version.
gateway_config = Table(
    "gateway_config",
    metadata,
    Column("gateway_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

gateway_config_history = Table(
    "gateway_config_history",
    metadata,
    Column("gateway_id", String(64), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("document", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("who", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("diff", Text, nullable=False),
    # The layer versions this version was composed from, e.g. {"fleet": 3, "gateway:gw-1": 2}.
    Column("layers", Text, nullable=False),
)

# What each gateway last reported about its desired configuration (applied, rejected, failed).
gateway_config_reported = Table(
    "gateway_config_reported",
    metadata,
    Column("gateway_id", String(64), primary_key=True),
    Column("reported_version", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", Float, nullable=False),
)

# Remote commands (controller/commands): `kendali cmd` inserts a pending row, the controller
# publishes it (sent), the gateway's answer or the expiry ends it (done, failed, expired).
# ``args`` and ``result`` are JSON text; ``rtt_ms`` is publish to answer, measured centrally.
commands = Table(
    "commands",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("gateway_id", String(64), nullable=False),
    Column("name", String(32), nullable=False),
    Column("args", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("sent_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("rtt_ms", Float, nullable=True),
    Column("result", Text, nullable=True),
)
# The controller's 0.1 s poll asks for pending and sent rows only.
Index("commands_status", commands.c.status, commands.c.expires_at)
