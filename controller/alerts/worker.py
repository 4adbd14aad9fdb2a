"""The alert worker: a thin loop under the controller's supervisor around
:class:`~controller.alerts.processor.AlertProcessor`.

It wakes when ingest has committed events (:meth:`AlertWorker.wake`) or every poll interval,
evaluates the controller's rules and timers every ``evaluate_interval_s``, re-reads the rules of
the configuration layers every ``rules_refresh_s`` and runs retention every
``prune_interval_s``. A database that is down is waited out here with a backoff (logged once
per outage), never a crash; anything unexpected ends :meth:`run` for the supervisor to count
and restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from common.redact import redact
from controller.alerts.config import AlertRulesLayer
from controller.alerts.processor import AlertProcessor

if TYPE_CHECKING:
    from controller.access.directory import Directory
    from controller.config import ControllerConfig
    from controller.config_store import ConfigStore
    from controller.fleet.registry import FleetRegistry
    from controller.store.repo import Store

log = logging.getLogger(__name__)

BACKOFF_MAX_S = 10.0
STOP_CHECK_S = 0.2


def layer_rules(doc: dict[str, object], scope: str) -> AlertRulesLayer | None:
    """A layer's ``alerts`` section; an invalid one (written around the validator) is logged
    and ignored rather than stopping every alert."""
    section = doc.get("alerts")
    if section is None:
        return None
    try:
        return AlertRulesLayer.model_validate(section)
    except ValidationError as exc:
        log.warning("config %s: alerts section ignored: %s", scope, exc.errors()[0]["msg"])
        return None


class AlertWorker:
    def __init__(
        self,
        config: ControllerConfig,
        store: Store,
        registry: FleetRegistry,
        config_store: ConfigStore,
        directory: Directory,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._wake = threading.Event()
        self._settings = config.alerts
        self._config_store = config_store
        self._clock = clock
        self.processor = AlertProcessor(
            store.engine,
            config.alerts,
            directory,
            gateways=registry.snapshot,
            layers=self._layers,
            clock=clock,
        )

    def wake(self) -> None:
        self._wake.set()

    def _layers(self, sites: set[str]) -> tuple[AlertRulesLayer | None, dict[str, AlertRulesLayer]]:
        from controller.config_store import BadScope, scope

        fleet = layer_rules(self._config_store.layer(scope.FLEET)[1], "fleet")
        by_site: dict[str, AlertRulesLayer] = {}
        for name in sorted(s for s in sites if s):
            try:
                rules = layer_rules(self._config_store.layer(scope.site(name))[1], f"site:{name}")
            except BadScope:
                continue
            if rules is not None:
                by_site[name] = rules
        return fleet, by_site

    def run(self, stop: threading.Event) -> None:
        backoff = 0.0
        started = False
        due = {"evaluate": 0.0, "refresh": 0.0, "prune": 0.0}
        while not stop.is_set():
            try:
                if not started:
                    self.processor.start()
                    started = True
                busy = self._step(due)
            except SQLAlchemyError as exc:
                if not backoff:
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    log.warning("alerts: database unavailable, retrying: %s", redact(first))
                backoff = min(BACKOFF_MAX_S, max(0.5, backoff * 2))
                stop.wait(backoff)
                continue
            if backoff:
                log.info("alerts: database available again")
            backoff = 0.0
            if not busy:
                self._idle(stop)

    def _idle(self, stop: threading.Event) -> None:
        """Until woken, the poll interval is over, or stop (checked at least every 0.2 s)."""
        deadline = time.monotonic() + self._settings.poll_interval_s
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._wake.wait(min(left, STOP_CHECK_S)):
                break
        self._wake.clear()

    def _step(self, due: dict[str, float]) -> bool:
        """One round; True when more events are already waiting."""
        s = self._settings
        now = time.monotonic()
        if now >= due["refresh"]:
            self.processor.refresh()
            due["refresh"] = now + s.rules_refresh_s
        handled = self.processor.handle_events()
        if now >= due["evaluate"]:
            self.processor.evaluate()
            due["evaluate"] = now + s.evaluate_interval_s
        if now >= due["prune"]:
            removed = self.processor.prune()
            if removed:
                log.info("alerts: retention removed %d row(s)", removed)
            due["prune"] = now + s.prune_interval_s
        return handled >= s.batch_size
