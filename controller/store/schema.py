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

# Free-form labels on gateways (many per gateway); rollouts can target one (docs/rollouts.md).
gateway_tags = Table(
    "gateway_tags",
    metadata,
    Column("gateway_id", String(64), primary_key=True),
    Column("tag", String(64), primary_key=True),
)
Index("gateway_tags_tag", gateway_tags.c.tag)

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

# ---------------------------------------------------------------------------------------------
# Operators (controller/alerts, controller/notify, controller/api, controller/access).

# Edge events, one row per event id (its phases update the row), indexed from the message
# history by the alert worker so the API and the terminal can filter and page them.
events = Table(
    "events",
    metadata,
    Column("event_id", String(32), primary_key=True),
    Column("gateway_id", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("type", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("site", String(64), nullable=False, default=""),
    Column("agencies", Text, nullable=False),  # ",bpbd," as for alerts
    Column("attributes", Text, nullable=False),
    Column("snapshot_id", BigInteger, nullable=True),
)
Index("events_received", events.c.received_at)
Index("events_gw_received", events.c.gateway_id, events.c.received_at)

# JPEG pictures: from events (phase start/update) and from snapshot commands (camera page).
snapshots = Table(
    "snapshots",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", Float, nullable=False),
    Column("gateway_id", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("event_id", String(32), nullable=True),
    Column("origin", String(16), nullable=False),  # event | command
    Column("agencies", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("jpeg", LargeBinary, nullable=False),
)
Index("snapshots_event", snapshots.c.event_id)
Index("snapshots_source_at", snapshots.c.gateway_id, snapshots.c.source, snapshots.c.at)

# Alerts: at most one open alert per (device, type). ``status`` is one of active_unack,
# active_ack, cleared_unack, closed (cleared and acknowledged). ``device`` is "gw" for a gateway
# or "gw/item" for one of its cameras or sensors.
alerts = Table(
    "alerts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("device", String(200), nullable=False),
    Column("gateway_id", String(64), nullable=False),
    Column("device_kind", String(16), nullable=False),  # gateway | camera | sensor | controller
    Column("type", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("agencies", Text, nullable=False),  # ",bpbd,dishub," (the owners, see access)
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("title", Text, nullable=False),
    Column("details", Text, nullable=False),  # JSON: value, level, threshold, event ids ...
    Column("event_id", String(32), nullable=True),
    Column("snapshot_id", BigInteger, nullable=True),
    Column("count", Integer, nullable=False),
    Column("first_at", Float, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("acked_at", Float, nullable=True),
    Column("acked_by", String(128), nullable=True),
    Column("cleared_at", Float, nullable=True),
    Column("cleared_by", String(128), nullable=True),
    Column("closed_at", Float, nullable=True),
    Column("escalation", Integer, nullable=False),
    Column("escalated_at", Float, nullable=True),
    Column("flapping", Boolean, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("alerts_open_key", alerts.c.device, alerts.c.type, alerts.c.is_open)
Index("alerts_last", alerts.c.last_at)
Index("alerts_open_last", alerts.c.is_open, alerts.c.last_at)
# The operators' list: open alerts newest first by id, read in index order and stopped at a page.
Index("alerts_open_id", alerts.c.is_open, alerts.c.id)

# Which agencies own each alert, one row per (alert, agency): the API's visibility filter.
alert_agencies = Table(
    "alert_agencies",
    metadata,
    Column("alert_id", BigInteger, primary_key=True),
    Column("agency", String(64), primary_key=True),
)
Index("alert_agencies_agency", alert_agencies.c.agency, alert_agencies.c.alert_id)

# Every change to an alert, in order: the id is the SSE event id (a reconnecting console replays
# from Last-Event-ID) and the cursor notifications and the MQTT publisher follow.
alert_journal = Table(
    "alert_journal",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("alert_id", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    Column("action", String(16), nullable=False),  # raised updated escalated acked cleared ...
    Column("who", String(128), nullable=False),
    Column("agencies", Text, nullable=False),
    Column("alert", Text, nullable=False),  # the alert as JSON after the change
)
Index("alert_journal_alert", alert_journal.c.alert_id)

alert_comments = Table(
    "alert_comments",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("alert_id", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    Column("who", String(128), nullable=False),
    Column("text", Text, nullable=False),
)
Index("alert_comments_alert", alert_comments.c.alert_id)

# Notifications that could not be delivered after their retries (or were rate-limited away).
notification_dead = Table(
    "notification_dead",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", Float, nullable=False),
    Column("channel", String(64), nullable=False),
    Column("alert_id", BigInteger, nullable=False),
    Column("journal_id", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
)
Index("notification_dead_at", notification_dead.c.at)

# People: hashed passwords (scrypt), a role, the agencies they belong to (``all_agencies`` for
# the command center's own staff).
users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),  # viewer | operator | admin
    Column("all_agencies", Boolean, nullable=False),
    Column("display_name", String(128), nullable=False),
    Column("language", String(8), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
)

user_agencies = Table(
    "user_agencies",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("agency", String(64), primary_key=True),
)

# Bearer tokens, stored as SHA-256 of the token (the token itself is shown once).
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("label", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
)
Index("api_tokens_user", api_tokens.c.username)

# Every write through the API or an admin command (who, what, on what, from where).
audit = Table(
    "audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", Float, nullable=False),
    Column("who", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("source", String(128), nullable=False),
)
Index("audit_at", audit.c.at)

# Enrollment tokens: only the SHA-256 of the secret is kept (the secret is shown once). ``id``
# is the public handle an admin lists and cancels by.
enroll_tokens = Table(
    "enroll_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("site", String(64), nullable=True),
    Column("gateway_id", String(64), nullable=True),
    Column("note", String(200), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Column("used_by", String(64), nullable=True),  # the gateway id it enrolled
    Column("used_from", String(128), nullable=True),
    Column("cancelled_at", Float, nullable=True),
    Column("cancelled_by", String(128), nullable=True),
    # Tags the enrolled gateway gets, space-separated and sorted ('' = none); see 0012.
    Column("tags", Text, nullable=False, server_default=""),
)

# Every certificate the controller signed for a gateway; serials as hex (160-bit numbers).
gateway_certs = Table(
    "gateway_certs",
    metadata,
    Column("serial", String(48), primary_key=True),
    Column("gateway_id", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # enroll | renew
    Column("token_id", String(16), nullable=True),
    Column("site", String(64), nullable=True),
    Column("issued_at", Float, nullable=False),
    Column("not_after", Float, nullable=False),
    Column("superseded_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("revoked_by", String(128), nullable=True),
    Column("revoke_reason", String(200), nullable=True),
)
Index("gateway_certs_gw", gateway_certs.c.gateway_id)

# ---------------------------------------------------------------------------------------------
# Rollouts (controller/rollouts): one row per rollout and one per (rollout, gateway). ``policy``,
# ``target`` and ``bounds`` are JSON text fixed at creation; ``revision`` grows with every write,
# so the worker and an operator's pause or abort never overwrite each other (each write is
# conditioned on the revision it read). ``kind`` is ``agent`` (a signed release to gateways) or
# ``camera_firmware`` (a vendor image to cameras; ``image`` pins its file, SHA-256 and profile,
# and each unit is one camera: ``rollout_gateways.camera_id``, empty for agent rollouts).
rollouts = Table(
    "rollouts",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("release_url", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("wave", Integer, nullable=False),
    Column("bounds", Text, nullable=False),
    Column("policy", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("kind", String(16), nullable=False, server_default="agent"),
    Column("image", Text, nullable=True),
)
Index("rollouts_created", rollouts.c.created_at)

rollout_gateways = Table(
    "rollout_gateways",
    metadata,
    Column("rollout_id", String(16), primary_key=True),
    Column("gateway_id", String(64), primary_key=True),
    Column("camera_id", String(64), primary_key=True, server_default=""),
    Column("wave", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("progress", Float, nullable=True),
    Column("command_id", String(32), nullable=True),
    Column("started_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
)
Index("rollout_gateways_gw", rollout_gateways.c.gateway_id)
