"""The ``rollouts`` and ``rollout_gateways`` tables: creation, the operators' actions and the
worker's reads and writes.

Every write to a rollout is conditioned on the ``revision`` its writer read and raises it, in one
transaction with the gateway rows, the update commands it starts and the audit row. So a pause
racing the worker either lands before the worker's write (which then retries on the new state)
or after it; neither is lost, and a gateway is never started after a pause was committed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import Connection

from controller.access import audit
from controller.commands.store import insert_command
from controller.rollouts import cameras, observe, views
from controller.rollouts.engine import (
    ACTIVE,
    OPEN,
    TERMINAL,
    GatewayView,
    RolloutView,
    Step,
    plan,
)
from controller.rollouts.errors import RolloutConflict, RolloutNotFound, Stale
from controller.rollouts.policy import RolloutPolicy, wave_bounds
from controller.store.schema import (
    commands,
    gateway_sites,
    gateway_tags,
    gateways,
    rollout_gateways,
    rollouts,
)
from protocol.codec import new_id

ACT_ATTEMPTS = 5
AUDIT_IDS_MAX = 20  # gateway ids named in an audit row; the rest are counted


@dataclass(frozen=True)
class Loaded:
    view: RolloutView
    revision: int
    version: str
    release_url: str
    gateways: list[GatewayView]  # units: a gateway, or a camera ("gateway/camera")
    command_ids: dict[str, str]
    kind: str = "agent"
    image: dict[str, Any] | None = None


class RolloutStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    # -- targets ---------------------------------------------------------------------------

    def site_gateways(self, site: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(gateway_sites.c.gateway_id).where(gateway_sites.c.site == site)
            )
            return sorted(r.gateway_id for r in rows)

    def tag_gateways(self, tag: str) -> list[str]:
        """The gateways carrying ``tag`` now, sorted."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(gateway_tags.c.gateway_id).where(gateway_tags.c.tag == tag))
            return sorted(r.gateway_id for r in rows)

    def known(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        with self.engine.connect() as conn:
            seen = {r.id for r in conn.execute(select(gateways.c.id).where(gateways.c.id.in_(ids)))}
            seen |= {
                r.gateway_id
                for r in conn.execute(
                    select(gateway_sites.c.gateway_id).where(gateway_sites.c.gateway_id.in_(ids))
                )
            }
        return seen

    def online(self, ids: Iterable[str] | None = None) -> set[str]:
        query = select(gateways.c.id).where(gateways.c.state == "online")
        if ids is not None:
            query = query.where(gateways.c.id.in_(list(ids)))
        with self.engine.connect() as conn:
            return {r.id for r in conn.execute(query)}

    # -- creation and operators' actions --------------------------------------------------

    def create(
        self,
        *,
        version: str,
        release_url: str,
        targets: Sequence[str],
        target: dict[str, Any],
        policy: RolloutPolicy,
        who: str,
        source: str = "",
        kind: str = "agent",
        image: dict[str, Any] | None = None,
        rollout_id: str | None = None,
    ) -> str:
        """``targets``: gateway ids, or for ``camera_firmware`` units ``gateway/camera``."""
        now = self.clock()
        rollout_id = rollout_id or new_id()[:16]
        bounds = wave_bounds(list(policy.waves), len(set(targets)))
        online = self.online({cameras.split(t)[0] for t in targets})
        waves = plan(targets, {t for t in targets if cameras.split(t)[0] in online}, bounds)
        with self.engine.begin() as conn:
            busy = self._busy(conn, sorted({cameras.split(u)[0] for u, _ in waves}))
            if busy:
                shown = ", ".join(f"{g} ({r})" for g, r in sorted(busy.items())[:5])
                raise RolloutConflict(f"already in an open rollout: {shown}")
            conn.execute(
                rollouts.insert().values(
                    id=rollout_id,
                    version=version,
                    release_url=release_url,
                    status="running",
                    reason="",
                    wave=0,
                    bounds=json.dumps(bounds),
                    policy=policy.model_dump_json(),
                    target=json.dumps(target, sort_keys=True),
                    total=len(waves),
                    revision=1,
                    kind=kind,
                    image=json.dumps(image, sort_keys=True) if image is not None else None,
                    created_by=who[:128],
                    created_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                rollout_gateways.insert(),
                [
                    {
                        "rollout_id": rollout_id,
                        "gateway_id": cameras.split(g)[0],
                        "camera_id": cameras.split(g)[1],
                        "wave": w,
                        "status": "queued",
                        "reason": "",
                        "updated_at": now,
                    }
                    for g, w in waves
                ],
            )
            audit.record(
                conn,
                who=who,
                action="rollout.create",
                target=rollout_id,
                detail={"kind": kind, "version": version, "target": _short(target),
                        "image": image, "units": len(waves),
                        "waves": bounds, "policy": policy.model_dump(mode="json")},
                source=source,
                at=now,
            )  # fmt: skip
        return rollout_id

    def _busy(self, conn: Connection, ids: list[str]) -> dict[str, str]:
        rows = conn.execute(
            select(rollout_gateways.c.gateway_id, rollouts.c.id)
            .join(rollouts, rollouts.c.id == rollout_gateways.c.rollout_id)
            .where(rollouts.c.status.in_(OPEN), rollout_gateways.c.gateway_id.in_(ids))
        )
        return {r.gateway_id: r.id for r in rows}

    def act(self, rollout_id: str, action: str, who: str, source: str = "") -> dict[str, Any]:
        """``pause`` (running), ``resume`` (paused) or ``abort`` (running or paused: gateways
        not started yet are skipped; ones updating are still followed to their outcome). When
        the worker wrote the rollout between our read and our write, read it again."""
        for _ in range(ACT_ATTEMPTS - 1):
            try:
                return self._act(rollout_id, action, who, source)
            except Stale:
                continue
        return self._act(rollout_id, action, who, source)

    def _act(self, rollout_id: str, action: str, who: str, source: str) -> dict[str, Any]:
        allowed = {"pause": ("running",), "resume": ("paused",), "abort": OPEN}[action]
        new = {"pause": "paused", "resume": "running", "abort": "aborted"}[action]
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).first()
            if row is None:
                raise RolloutNotFound(rollout_id)
            if row.status not in allowed:
                raise RolloutConflict(f"cannot {action} a rollout that is {row.status}")
            values: dict[str, Any] = {"status": new, "updated_at": now}
            if action == "abort":
                values["reason"] = f"aborted by {who}"
                left = conn.execute(
                    select(func.count())
                    .select_from(rollout_gateways)
                    .where(
                        rollout_gateways.c.rollout_id == rollout_id,
                        rollout_gateways.c.status.in_(ACTIVE),
                    )
                ).scalar_one()
                if not left:
                    values["finished_at"] = now
                conn.execute(
                    update(rollout_gateways)
                    .where(
                        rollout_gateways.c.rollout_id == rollout_id,
                        rollout_gateways.c.status.in_(("queued", "offline")),
                    )
                    .values(status="skipped", reason="rollout aborted", updated_at=now,
                            finished_at=now)
                )  # fmt: skip
            self._bump(conn, rollout_id, row.revision, values)
            audit.record(
                conn,
                who=who,
                action=f"rollout.{action}",
                target=rollout_id,
                detail={"from": row.status, "to": new},
                source=source,
                at=now,
            )
        return self.get(rollout_id)

    @staticmethod
    def _bump(conn: Connection, rollout_id: str, revision: int, values: dict[str, Any]) -> None:
        done = conn.execute(
            update(rollouts)
            .where(rollouts.c.id == rollout_id, rollouts.c.revision == revision)
            .values(revision=revision + 1, **values)
        )
        if done.rowcount != 1:
            raise Stale(rollout_id)

    # -- reading (controller.rollouts.views) -----------------------------------------------

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return views.recent(self.engine, limit)

    def get(self, rollout_id: str) -> dict[str, Any]:
        return views.detail(self.engine, rollout_id, self.clock())

    # -- the worker's side ------------------------------------------------------------------

    def unfinished(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rollouts.c.id)
                .where(rollouts.c.finished_at.is_(None))
                .order_by(rollouts.c.created_at)
            )
            return [r.id for r in rows]

    def load(self, rollout_id: str) -> Loaded:
        with self.engine.connect() as conn:
            r = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).first()
            if r is None:
                raise RolloutNotFound(rollout_id)
            rows = conn.execute(
                select(rollout_gateways).where(rollout_gateways.c.rollout_id == rollout_id)
            ).all()
        view = RolloutView(
            id=r.id,
            status=r.status,
            wave=r.wave,
            bounds=tuple(json.loads(r.bounds)),
            policy=RolloutPolicy.model_validate_json(r.policy),
            version=r.version,
        )
        gws = [GatewayView(_unit(g), g.wave, g.status, g.started_at, g.reason) for g in rows]
        ids = {_unit(g): g.command_id for g in rows if g.command_id}
        image = json.loads(r.image) if r.image else None
        return Loaded(view, r.revision, r.version, r.release_url, gws, ids, r.kind, image)

    def versions(self, ids: Iterable[str]) -> dict[str, str]:
        """The agent version each gateway last reported (its birth)."""
        query = select(gateways.c.id, gateways.c.agent_version).where(gateways.c.id.in_(list(ids)))
        with self.engine.connect() as conn:
            return {r.id: r.agent_version for r in conn.execute(query)}

    def fleet(self, ids: Iterable[str] | None = None) -> list[tuple[str, Any, Any]]:
        """(gateway id, birth inventory, last health) of these gateways, or of all."""
        query = select(gateways.c.id, gateways.c.inventory, gateways.c.last_health)
        if ids is not None:
            query = query.where(gateways.c.id.in_(list(ids)))
        with self.engine.connect() as conn:
            return [(r.id, r.inventory, r.last_health) for r in conn.execute(query)]

    def health_of(self, ids: Iterable[str]) -> dict[str, Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(gateways.c.id, gateways.c.last_health).where(gateways.c.id.in_(list(ids)))
            )
            return {r.id: r.last_health for r in rows}

    def answers(self, command_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """command id -> {status, result} of the finished ``update`` commands among them."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(commands.c.id, commands.c.status, commands.c.result).where(
                    commands.c.id.in_(list(command_ids)),
                    commands.c.status.in_(("done", "failed", "expired")),
                )
            )
            return {
                r.id: {"status": r.status, "result": json.loads(r.result) if r.result else {}}
                for r in rows
            }

    def apply(self, loaded: Loaded, step: Step, now: float) -> None:
        """Persist one step: the rollout's status and wave, every gateway change and, for each
        gateway started, its ``update`` command (published by the controller's command dispatch
        once this commits). Raises :class:`Stale` when the rollout changed meanwhile."""
        view = loaded.view
        policy = view.policy
        with self.engine.begin() as conn:
            values: dict[str, Any] = {"status": step.status, "wave": step.wave, "updated_at": now}
            if step.reason:
                values["reason"] = step.reason
            if step.finished:
                values["finished_at"] = now
            self._bump(conn, view.id, loaded.revision, values)
            for change in step.changes:
                row: dict[str, Any] = {"status": change.new, "updated_at": now}
                if change.new != change.old:
                    row["reason"] = change.reason
                if change.progress is not None:
                    row["progress"] = change.progress
                if change.new in TERMINAL:
                    row["finished_at"] = now
                gateway_id, camera_id = _split(loaded, change.gateway_id)
                if change.start:
                    name, args = _command(loaded, camera_id)
                    cmd_id = insert_command(
                        conn,
                        gateway_id,
                        name,
                        args,
                        now=now,
                        expires_at=now + policy.gateway_timeout_s,
                    )
                    row.update(command_id=cmd_id, started_at=now, progress=None)
                conn.execute(
                    update(rollout_gateways)
                    .where(
                        rollout_gateways.c.rollout_id == view.id,
                        rollout_gateways.c.gateway_id == gateway_id,
                        rollout_gateways.c.camera_id == camera_id,
                        rollout_gateways.c.status == change.old,
                    )
                    .values(**row)
                )


def _unit(row: Any) -> str:
    return cameras.unit(row.gateway_id, row.camera_id) if row.camera_id else row.gateway_id


def _split(loaded: Loaded, unit_id: str) -> tuple[str, str]:
    return cameras.split(unit_id) if loaded.kind == cameras.KIND else (unit_id, "")


def _command(loaded: Loaded, camera_id: str) -> tuple[str, dict[str, Any]]:
    """The command a started unit gets: ``update`` for a gateway, ``camera-firmware`` (the
    image's URL names the rollout; its pinned SHA-256 goes along) for a camera."""
    if loaded.kind == cameras.KIND:
        image = loaded.image or {}
        url = loaded.release_url + loaded.view.id
        args = cameras.command_args(url, loaded.version, camera_id, str(image.get("sha256")))
        return cameras.COMMAND, args
    policy = loaded.view.policy
    args = observe.command_args(
        loaded.release_url, loaded.version, loaded.view.id, policy.allow_downgrade
    )
    return observe.COMMAND, args


def _short(target: dict[str, Any]) -> dict[str, Any]:
    ids = target.get("gateways")
    if isinstance(ids, list) and len(ids) > AUDIT_IDS_MAX:
        return {"gateways": ids[:AUDIT_IDS_MAX], "more": len(ids) - AUDIT_IDS_MAX}
    return target
