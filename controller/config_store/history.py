"""History and audit: the rows every write leaves behind, and reading versions back from them.

A gateway's history holds each effective version (document with secrets sealed, who, when, why,
the masked diff, and the layer versions it was composed from). The audit holds one row per write
(a layer version with the layer as written, or a site assignment), which is what a layer
rollback restores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from controller.config_store.errors import UnknownVersion
from controller.config_store.merge import Doc
from controller.config_store.scope import Scope
from controller.config_store.secrets import SecretBox
from controller.store.schema import config_audit, gateway_config, gateway_config_history


@dataclass(frozen=True)
class GatewayChange:
    gateway_id: str
    old_version: int
    new_version: int
    diff: list[dict[str, Any]]


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    at: float
    who: str
    reason: str
    diff: list[dict[str, Any]]


@dataclass(frozen=True)
class Author:
    """Who writes, why, and when: the same on every row one write leaves."""

    who: str
    reason: str
    at: float


def store_effective(
    conn: Connection,
    box: SecretBox,
    *,
    change: GatewayChange,
    doc: Doc,
    used: dict[str, int],
    by: Author,
) -> None:
    """The gateway's new effective version and its history row."""
    sealed = json.dumps(box.seal(doc), sort_keys=True)
    if change.old_version == 0:
        conn.execute(
            gateway_config.insert().values(
                gateway_id=change.gateway_id, version=1, document=sealed, updated_at=by.at
            )
        )
    else:
        conn.execute(
            update(gateway_config)
            .where(gateway_config.c.gateway_id == change.gateway_id)
            .values(version=change.new_version, document=sealed, updated_at=by.at)
        )
    conn.execute(
        gateway_config_history.insert().values(
            gateway_id=change.gateway_id,
            version=change.new_version,
            document=sealed,
            at=by.at,
            who=by.who,
            reason=by.reason,
            diff=json.dumps(change.diff),
            layers=json.dumps(used, sort_keys=True),
        )
    )


def audit(
    conn: Connection,
    box: SecretBox,
    *,
    scope: str,
    version: int | None,
    changes: list[dict[str, Any]],
    doc: Doc | None,
    by: Author,
) -> None:
    conn.execute(
        config_audit.insert().values(
            at=by.at,
            who=by.who,
            scope=scope,
            layer_version=version,
            reason=by.reason,
            diff=json.dumps(changes),
            document=None if doc is None else json.dumps(box.seal(doc), sort_keys=True),
        )
    )


def entries(conn: Connection, scope: Scope, limit: int) -> list[HistoryEntry]:
    """Newest first: a gateway's effective versions, or a layer's writes."""
    if scope.kind == "gateway":
        rows = conn.execute(
            select(gateway_config_history)
            .where(gateway_config_history.c.gateway_id == scope.name)
            .order_by(gateway_config_history.c.version.desc())
            .limit(limit)
        ).mappings()
        return [_entry(r, r["version"]) for r in rows]
    rows = conn.execute(
        select(config_audit)
        .where(config_audit.c.scope == str(scope))
        .where(config_audit.c.layer_version.is_not(None))
        .order_by(config_audit.c.id.desc())
        .limit(limit)
    ).mappings()
    return [_entry(r, r["layer_version"]) for r in rows]


def _entry(row: Any, version: int) -> HistoryEntry:
    return HistoryEntry(int(version), row["at"], row["who"], row["reason"], json.loads(row["diff"]))


def _missing(scope: Scope | str, version: int) -> UnknownVersion:
    return UnknownVersion(f"{scope} has no version {version} (see kendali config history)")


def layer_doc_at(conn: Connection, box: SecretBox, scope: Scope, version: int) -> Doc:
    """A layer as it was written at ``version`` (0: empty)."""
    if version == 0:
        return {}
    doc = conn.execute(
        select(config_audit.c.document).where(
            config_audit.c.scope == str(scope), config_audit.c.layer_version == version
        )
    ).scalar()
    if doc is None:
        raise _missing(scope, version)
    return dict(box.open(json.loads(doc)))


def gateway_layer_at(conn: Connection, gateway_id: str, version: int) -> int:
    """The version of the gateway's override layer its effective ``version`` was built on."""
    used = conn.execute(
        select(gateway_config_history.c.layers).where(
            gateway_config_history.c.gateway_id == gateway_id,
            gateway_config_history.c.version == version,
        )
    ).scalar()
    if used is None:
        raise _missing(f"gateway {gateway_id}", version)
    return int(json.loads(used).get(f"gateway:{gateway_id}", 0))


def version_doc(conn: Connection, box: SecretBox, scope: Scope, version: int) -> Doc:
    """A gateway's effective configuration at ``version``, or a layer at ``version``."""
    if version == 0 or scope.kind != "gateway":
        return layer_doc_at(conn, box, scope, version)
    doc = conn.execute(
        select(gateway_config_history.c.document).where(
            gateway_config_history.c.gateway_id == scope.name,
            gateway_config_history.c.version == version,
        )
    ).scalar()
    if doc is None:
        raise _missing(scope, version)
    return dict(box.open(json.loads(doc)))
