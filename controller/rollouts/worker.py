"""The rollout worker: a thin loop under the controller's supervisor.

Every ``poll_interval_s`` it takes each unfinished rollout, reads what its gateways reported
(health and command answers, from the database), asks :func:`~.engine.step` what to do, and
persists that in one transaction (:meth:`~.store.RolloutStore.apply`) whose ``update`` commands
the controller's command dispatch then publishes. Nothing is held in memory between rounds, so a
controller killed at any point resumes from exactly what the database says. A database that is
down is waited out with a backoff; anything unexpected ends :meth:`run` for the supervisor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from common.redact import redact
from controller.rollouts import cameras, observe
from controller.rollouts.engine import ACTIVE, WAITING, Report, Step, step
from controller.rollouts.store import Loaded, RolloutNotFound, RolloutStore, Stale

log = logging.getLogger(__name__)

BACKOFF_MAX_S = 10.0


class RolloutWorker:
    def __init__(
        self,
        store: RolloutStore,
        poll_interval_s: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.poll_interval_s = poll_interval_s
        self.clock = clock

    def run(self, stop: threading.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
            try:
                self.tick()
            except SQLAlchemyError as exc:
                if not backoff:
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    log.warning("rollouts: database unavailable, retrying: %s", redact(first))
                backoff = min(BACKOFF_MAX_S, max(0.5, backoff * 2))
                stop.wait(backoff)
                continue
            if backoff:
                log.info("rollouts: database available again")
            backoff = 0.0
            stop.wait(self.poll_interval_s)

    def tick(self) -> int:
        """One round over every unfinished rollout; returns how many changed."""
        changed = 0
        for rollout_id in self.store.unfinished():
            try:
                changed += self.advance(rollout_id)
            except (Stale, RolloutNotFound):
                continue  # an operator acted meanwhile: the next round reads the new state
            except ValueError as exc:  # one unreadable rollout must not stop the others
                log.error("rollout %s skipped: %s", rollout_id, redact(str(exc))[:300])
        return changed

    def advance(self, rollout_id: str) -> int:
        loaded = self.store.load(rollout_id)
        now = self.clock()
        if loaded.kind == cameras.KIND:
            reports = self.camera_reports(loaded)
            online, running = self.camera_waiting(loaded)
            group = cameras.groups(g.gateway_id for g in loaded.gateways)
        else:
            reports = self.reports(loaded)
            waiting = [g.gateway_id for g in loaded.gateways if g.status in WAITING]
            online = self.store.online(waiting) if waiting else set()
            running = self.store.versions(online) if online else {}
            group = None
        decided = step(loaded.view, loaded.gateways, reports, online, now, running, group)
        same = (decided.status, decided.wave) == (loaded.view.status, loaded.view.wave)
        if same and not decided.changes and not decided.finished:
            return 0
        self.store.apply(loaded, decided, now)
        _log(loaded, decided)
        return 1

    def reports(self, loaded: Loaded) -> dict[str, Report]:
        ids = [g.gateway_id for g in loaded.gateways if g.status in ACTIVE]
        if not ids:
            return {}
        health = self.store.health_of(ids)
        answers = self.store.answers(loaded.command_ids[g] for g in ids if g in loaded.command_ids)
        out = {}
        for gateway_id in ids:
            cmd = loaded.command_ids.get(gateway_id)
            report = observe.combine(
                observe.from_health(health.get(gateway_id), loaded.view.id, loaded.version),
                observe.from_answer(answers.get(cmd) if cmd else None),
            )
            if report is not None:
                out[gateway_id] = report
        return out

    def camera_reports(self, loaded: Loaded) -> dict[str, Report]:
        """A camera's outcome is its command's answer; meanwhile its health's planned outage."""
        ids = [g.gateway_id for g in loaded.gateways if g.status in ACTIVE]
        if not ids:
            return {}
        health = self.store.health_of({cameras.split(u)[0] for u in ids})
        answers = self.store.answers(loaded.command_ids[u] for u in ids if u in loaded.command_ids)
        out = {}
        for unit_id in ids:
            gateway_id, camera_id = cameras.split(unit_id)
            cmd = loaded.command_ids.get(unit_id)
            report = cameras.from_answer(
                answers.get(cmd) if cmd else None, loaded.version
            ) or cameras.from_health(health.get(gateway_id), camera_id)
            if report is not None:
                out[unit_id] = report
        return out

    def camera_waiting(self, loaded: Loaded) -> tuple[set[str], dict[str, str]]:
        """Waiting cameras whose gateway is online, and those of them already reporting the
        image's version or a newer one (committed without a command)."""
        waiting = [g.gateway_id for g in loaded.gateways if g.status in WAITING]
        if not waiting:
            return set(), {}
        up = self.store.online({cameras.split(u)[0] for u in waiting})
        online = {u for u in waiting if cameras.split(u)[0] in up}
        profile = cameras.profile_of(loaded.image)
        done: set[str] = set()
        if profile is not None and up:
            done = cameras.at_target(profile, loaded.version, self.store.fleet(up))
        return online, dict.fromkeys(online & done, loaded.version)


def _log(loaded: Loaded, decided: Step) -> None:
    rid = loaded.view.id
    for change in decided.changes:
        if change.new != change.old:
            log.info(
                "rollout %s: %s %s -> %s %s",
                rid,
                change.gateway_id,
                change.old,
                change.new,
                change.reason,
            )
    if decided.status != loaded.view.status:
        log.info("rollout %s: %s (%s)", rid, decided.status, decided.reason)
    elif decided.wave != loaded.view.wave:
        log.info("rollout %s: wave %d started", rid, decided.wave + 1)
