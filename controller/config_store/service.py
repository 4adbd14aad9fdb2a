"""The desired configuration of every gateway: layers in, effective versions out.

A layer write is one transaction that holds the configuration write lock (PostgreSQL: an
advisory lock; SQLite: ``BEGIN IMMEDIATE``), checks the version the write was based on, stores
the layer, recomposes every gateway the layer reaches, bumps the version of each whose effective
configuration changed (and only those), and records history and an audit row. Secrets are
encrypted before anything reaches the database; everything this class returns is masked
unless the caller asks for ``reveal`` (the MQTT delivery to the gateway's own subtree).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from controller.config_store import history as records
from controller.config_store import scope as scopes
from controller.config_store.drift import Desired, Drift, Presence, Reported, drift_of
from controller.config_store.errors import (
    BadScope,
    ConfigStoreError,
    InvalidConfig,
    StaleBase,
)
from controller.config_store.history import GatewayChange, HistoryEntry
from controller.config_store.merge import (
    Doc,
    compose,
    controller_part,
    diff,
    for_gateway,
    keep_secrets,
    mask,
)
from controller.config_store.scope import Scope
from controller.config_store.secrets import SecretBox
from controller.store.schema import (
    config_layers,
    gateway_config,
    gateway_config_reported,
    gateway_sites,
    gateways,
)

log = logging.getLogger(__name__)

Validator = Callable[[Doc], list[str]]
_LOCK_KEY = 0x4B454E44  # "KEND": the advisory lock every configuration write takes
STATUSES = ("applied", "rejected", "failed")


def accept_all(_doc: Doc) -> list[str]:
    return []


@dataclass(frozen=True)
class WriteResult:
    scope: str
    layer_version: int
    dry_run: bool
    diff: list[dict[str, Any]]
    changes: list[GatewayChange] = field(default_factory=list)


class ConfigStore:
    def __init__(
        self,
        engine: Engine,
        key: bytes,
        *,
        validator: Validator = accept_all,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self._box = SecretBox(key)
        self._validate = validator
        self._clock = clock

    # -- reads ------------------------------------------------------------------------

    def layer(self, scope: Scope) -> tuple[int, Doc]:
        """The layer's version and its document, secrets masked (what ``show`` prints)."""
        with self.engine.connect() as conn:
            version, doc = self._layer(conn, scope)
        return version, mask(doc)

    def effective(self, gateway_id: str, *, reveal: bool = False) -> tuple[int, Doc]:
        """The gateway's desired version and configuration. Secrets are masked unless
        ``reveal``: only the delivery to the gateway's own subtree may ask for clear text."""
        scopes.gateway(gateway_id)  # a bad id is refused, not composed
        with self.engine.connect() as conn:
            row = conn.execute(
                select(gateway_config.c.version, gateway_config.c.document).where(
                    gateway_config.c.gateway_id == gateway_id
                )
            ).first()
        if row is None:
            # A registered gateway no write has reached yet is composed now; an id nobody
            # knows (a typo) gets nothing, so no configuration is ever published for it.
            with self._write() as conn:
                if gateway_id in self._reached_by(conn, scopes.FLEET):
                    self._recompose(conn, {gateway_id}, "controller", "first composed", commit=True)
            return self.effective(gateway_id, reveal=reveal) if self._has(gateway_id) else (0, {})
        doc = self._box.open(json.loads(row.document))
        return int(row.version), doc if reveal else mask(doc)

    def desired_versions(self) -> dict[str, int]:
        """Gateway id -> desired version, for every gateway with a configuration. A gateway
        that registered after the last write that reached it is composed here first, so the
        delivery finds it without waiting for the next write."""
        with self.engine.connect() as conn:
            known = self._reached_by(conn, scopes.FLEET)
            have = dict(
                conn.execute(select(gateway_config.c.gateway_id, gateway_config.c.version)).all()
            )
            layers = conn.execute(select(func.count()).select_from(config_layers)).scalar()
        missing = known - set(have)
        if missing and layers:
            with self._write() as conn:
                self._recompose(conn, missing, "controller", "first composed", commit=True)
                have = dict(
                    conn.execute(
                        select(gateway_config.c.gateway_id, gateway_config.c.version)
                    ).all()
                )
        return {gw: int(v) for gw, v in have.items()}

    def history(self, scope: Scope, limit: int = 50) -> list[HistoryEntry]:
        """Newest first: a gateway's effective versions, or a layer's writes."""
        with self.engine.connect() as conn:
            return records.entries(conn, scope, limit)

    def diff(self, scope: Scope, old: int, new: int) -> list[dict[str, Any]]:
        """Masked changes between two versions (of a gateway's effective configuration, or
        of a layer); version 0 is the empty document."""
        with self.engine.connect() as conn:
            return diff(
                records.version_doc(conn, self._box, scope, old),
                records.version_doc(conn, self._box, scope, new),
            )

    def current_version(self, scope: Scope) -> int:
        if scope.kind == "gateway":
            return self.effective(scope.name)[0]
        with self.engine.connect() as conn:
            return self._layer(conn, scope)[0]

    def drift(self) -> list[Drift]:
        with self.engine.connect() as conn:
            desired = conn.execute(select(gateway_config.c.gateway_id, gateway_config.c.version))
            reported = {
                r.gateway_id: Reported(int(r.reported_version), r.status, r.reason, r.at)
                for r in conn.execute(select(gateway_config_reported))
            }
            presence = {
                r.id: Presence(r.state, r.state_since)
                for r in conn.execute(
                    select(gateways.c.id, gateways.c.state, gateways.c.state_since)
                )
            }
            out = []
            for gw, version in sorted(desired):
                d = drift_of(Desired(gw, int(version)), reported.get(gw), presence.get(gw))
                if d is not None:
                    out.append(d)
        return out

    # -- writes -----------------------------------------------------------------------

    def set_layer(
        self,
        scope: Scope,
        document: Doc,
        *,
        base: int,
        who: str,
        reason: str = "",
        dry_run: bool = False,
    ) -> WriteResult:
        """Replace a layer's document. ``base`` is the layer version the edit started from;
        a stale base is refused with :class:`StaleBase`. A ``password: "***"`` keeps the
        secret the layer holds there. Every affected gateway's composed configuration is
        validated; nothing is written when one is invalid or on ``dry_run``."""
        if not isinstance(document, dict):
            raise BadScope(f"{scope}: the layer must be a mapping, got {type(document).__name__}")
        with self._write() as conn:
            current, old = self._layer(conn, scope)
            if current != base:
                raise StaleBase(str(scope), base, current)
            try:
                new = keep_secrets(document, old)
            except KeyError as exc:
                raise BadScope(
                    f"{exc.args[0]}: '***' keeps an existing secret, but there is none there"
                ) from exc
            return self._apply(
                conn,
                scope,
                current=current,
                old=old,
                new=new,
                who=who,
                reason=reason,
                dry_run=dry_run,
            )

    def rollback(
        self, scope: Scope, version: int, *, who: str, reason: str = "", dry_run: bool = False
    ) -> WriteResult:
        """Make ``version`` current again as a new version. For a gateway ``version`` is its
        effective version: its own override layer goes back to what it was then (fleet and
        site layers stay as they are now). For a fleet or site layer, a layer version."""
        with self._write() as conn:
            target = scope
            layer_version = version
            if scope.kind == "gateway":
                layer_version = records.gateway_layer_at(conn, scope.name, version)
            doc = records.layer_doc_at(conn, self._box, target, layer_version)
            current, old = self._layer(conn, target)
            why = reason or f"rollback to version {version}"
            return self._apply(
                conn,
                target,
                current=current,
                old=old,
                new=doc,
                who=who,
                reason=why,
                dry_run=dry_run,
            )

    def assign_site(
        self, gateway_id: str, site: str | None, *, who: str, reason: str = ""
    ) -> WriteResult:
        """Put a gateway in a site (``None``: no site, fleet defaults + its overrides)."""
        gw = scopes.gateway(gateway_id)
        if site is not None:
            scopes.site(site)
        with self._write() as conn:
            old = conn.execute(
                select(gateway_sites.c.site).where(gateway_sites.c.gateway_id == gateway_id)
            ).scalar()
            conn.execute(gateway_sites.delete().where(gateway_sites.c.gateway_id == gateway_id))
            if site is not None:
                conn.execute(gateway_sites.insert().values(gateway_id=gateway_id, site=site))
            change = [{"path": "site", "old": old, "new": site}] if old != site else []
            why = reason or "site assignment"
            changes = self._recompose(conn, {gateway_id}, who, why, commit=True)
            by = records.Author(who, why, self._clock())
            records.audit(
                conn, self._box, scope=str(gw), version=None, changes=change, doc=None, by=by
            )
        return WriteResult(str(gw), 0, False, change, changes)

    def record_reported(self, gateway_id: str, version: int, status: str, reason: str = "") -> None:
        """What the gateway said about a desired version (the MQTT delivery calls this)."""
        if status not in STATUSES:
            raise ConfigStoreError(f"status {status!r}: expected one of {', '.join(STATUSES)}")
        row = {
            "gateway_id": gateway_id,
            "reported_version": int(version),
            "status": status,
            "reason": reason[:1000],
            "at": self._clock(),
        }
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(
            gateway_config_reported
        ).values(row)
        stmt = insert.on_conflict_do_update(
            index_elements=["gateway_id"],
            set_={k: insert.excluded[k] for k in row if k != "gateway_id"},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    # -- internals --------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction holding the configuration write lock, taken before anything is read."""
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _apply(
        self,
        conn: Connection,
        scope: Scope,
        *,
        current: int,
        old: Doc,
        new: Doc,
        who: str,
        reason: str,
        dry_run: bool,
    ) -> WriteResult:
        layer_diff = diff(old, new)
        own = controller_part(new)
        # The controller's own keys (alert rules) reach no gateway: checked on the layer itself.
        if own and scope.kind == "gateway":
            raise InvalidConfig([f"{scope}: {', '.join(own)}: set per fleet or site"])
        if own and own != controller_part(old):
            problems = self._validate(own)
            if problems:
                raise InvalidConfig([f"{scope}: {p}" for p in problems])
        self._store_layer(conn, scope, current, new, who)
        targets = self._reached_by(conn, scope)
        changes = self._recompose(conn, targets, who, reason, commit=not dry_run)
        if dry_run:
            conn.rollback()
            return WriteResult(str(scope), current, True, layer_diff, changes)
        by = records.Author(who, reason, self._clock())
        records.audit(
            conn,
            self._box,
            scope=str(scope),
            version=current + 1,
            changes=layer_diff,
            doc=new,
            by=by,
        )
        log.info(
            "config %s: version %d by %s, %d gateway(s) changed",
            scope,
            current + 1,
            who,
            len(changes),
        )
        return WriteResult(str(scope), current + 1, False, layer_diff, changes)

    def _store_layer(
        self, conn: Connection, scope: Scope, current: int, doc: Doc, who: str
    ) -> None:
        values = {
            "version": current + 1,
            "document": json.dumps(self._box.seal(doc), sort_keys=True),
            "updated_at": self._clock(),
            "updated_by": who,
        }
        if current == 0:
            conn.execute(config_layers.insert().values(scope=str(scope), **values))
        else:
            conn.execute(
                update(config_layers).where(config_layers.c.scope == str(scope)).values(**values)
            )

    def _recompose(
        self, conn: Connection, targets: set[str], who: str, reason: str, *, commit: bool
    ) -> list[GatewayChange]:
        """Compose each target, validate all, then (``commit``) bump those that changed."""
        layers = self._layers(conn)
        sites = {
            r.gateway_id: r.site
            for r in conn.execute(select(gateway_sites.c.gateway_id, gateway_sites.c.site))
        }
        current = {
            r.gateway_id: (int(r.version), self._box.open(json.loads(r.document)))
            for r in conn.execute(select(gateway_config))
        }
        changes, problems, new_docs = [], [], {}
        for gw in sorted(targets):
            names = ["fleet", f"site:{sites[gw]}" if gw in sites else "", f"gateway:{gw}"]
            new = for_gateway(compose(layers[n][1] for n in names if n in layers))
            version, old = current.get(gw, (0, {}))
            if new == old:
                continue
            problems += [f"{gw}: {p}" for p in self._validate(new)]
            changes.append(GatewayChange(gw, version, version + 1, diff(old, new)))
            used = {n: layers[n][0] for n in names if n in layers}
            new_docs[gw] = (new, used)
        if problems:
            raise InvalidConfig(problems)
        if commit:
            for change in changes:
                doc, used = new_docs[change.gateway_id]
                by = records.Author(who, reason, self._clock())
                records.store_effective(conn, self._box, change=change, doc=doc, used=used, by=by)
        return changes

    def _reached_by(self, conn: Connection, scope: Scope) -> set[str]:
        """The gateways a layer reaches: all known ones for the fleet, a site's members."""
        if scope.kind == "gateway":
            return {scope.name}
        members = select(gateway_sites.c.gateway_id)
        if scope.kind == "site":
            return set(conn.execute(members.where(gateway_sites.c.site == scope.name)).scalars())
        known = set(conn.execute(members).scalars())
        known |= set(conn.execute(select(gateways.c.id)).scalars())
        known |= set(conn.execute(select(gateway_config.c.gateway_id)).scalars())
        prefix = "gateway:"
        layer_names = conn.execute(
            select(config_layers.c.scope).where(config_layers.c.scope.startswith(prefix))
        ).scalars()
        return known | {n.removeprefix(prefix) for n in layer_names}

    def _layers(self, conn: Connection) -> dict[str, tuple[int, Doc]]:
        return {
            r.scope: (int(r.version), self._box.open(json.loads(r.document)))
            for r in conn.execute(select(config_layers))
        }

    def _layer(self, conn: Connection, scope: Scope) -> tuple[int, Doc]:
        row = conn.execute(
            select(config_layers.c.version, config_layers.c.document).where(
                config_layers.c.scope == str(scope)
            )
        ).first()
        if row is None:
            return 0, {}
        return int(row.version), self._box.open(json.loads(row.document))

    def _has(self, gateway_id: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(func.count()).where(gateway_config.c.gateway_id == gateway_id)
            ).scalar()
        return bool(found)
