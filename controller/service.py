"""The controller process: store and ingest under the one supervisor.

Ingest is an essential worker: if it keeps failing past its restart cap the process exits non-zero
and systemd starts a fresh one. A status worker writes every worker's state (and ingest's own
figures) to the database every few seconds, for `kendali fleet status`.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from typing import Any

from common.redact import redact
from common.supervision import DEVICE, ESSENTIAL, Supervisor, Worker
from controller.access.directory import Directory
from controller.alerts.worker import AlertWorker
from controller.api.server import ApiServer
from controller.commands import CommandStore
from controller.config import ControllerConfig
from controller.config_store import ConfigStore, load_key
from controller.config_store.service import Validator, accept_all
from controller.enrollment.service import Enrollment
from controller.ingest import Ingest
from controller.notify.worker import NotifyWorker
from controller.rollouts.manager import Rollouts
from controller.rollouts.store import RolloutStore
from controller.rollouts.worker import RolloutWorker
from controller.store.repo import Store

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 5.0


def tune_gc() -> None:
    """Ingest allocates a dozen short-lived objects per message and frees them by reference
    counting; the cyclic collector running every 700 allocations over them cost ~30 % of ingest
    throughput. Freeze what start-up created and collect young objects far less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)


class Controller:
    def __init__(self, config: ControllerConfig, *, validator: Validator = accept_all) -> None:
        """``validator`` checks configuration layers written through the API against the agent's
        model (the entry point passes it in: the controller never imports the agent)."""
        tune_gc()
        self.config = config
        self.store = Store(config.database.url)
        # Raises ConfigKeyError (the command turns it into exit 2) for a key others can read.
        self.config_store = ConfigStore(
            self.store.engine, load_key(config.config_key_file), validator=validator
        )
        self.directory = Directory(config.agencies)
        self.commands = CommandStore(self.store.engine)
        self.ingest = Ingest(
            config,
            self.store,
            desired=self.config_store,
            on_config_report=self.config_store.record_reported,
            commands=self.commands,
            on_events=self._wake_alerts,
        )
        self.alerts = AlertWorker(
            config, self.store, self.ingest.registry, self.config_store, self.directory
        )
        self.notify = NotifyWorker(config, self.store, self.directory)
        self.api = ApiServer(
            config,
            self.store,
            self.config_store,
            self.commands,
            self.directory,
            on_forget=self.ingest.forget,
        )
        self.stop_event = threading.Event()
        self.supervisor = Supervisor()
        self.supervisor.add(Worker("ingest", self.ingest.serve_forever, ESSENTIAL))
        self.supervisor.add(Worker("status", self._publish_status, DEVICE))
        # Alerts, notifications and the API restart on their own and never stop ingest.
        self.supervisor.add(Worker("alerts", self.alerts.run, DEVICE))
        self.supervisor.add(Worker("notify", self.notify.run, DEVICE))
        # Rollouts: the worker follows them; the API's rollout and release routes find the
        # manager on the app (like enrollment below).
        rollout_store = RolloutStore(self.store.engine)
        self.rollouts = Rollouts(rollout_store, config.rollouts, config.releases)
        self.api.app.state.rollouts = self.rollouts
        self.rollout_worker = RolloutWorker(rollout_store, config.rollouts.poll_interval_s)
        self.supervisor.add(Worker("rollouts", self.rollout_worker.run, DEVICE))
        if config.api.enabled:
            self.supervisor.add(Worker("api", self.api.run, DEVICE))
        self.enrollment: Enrollment | None = None
        if config.enrollment is not None:
            # The API's enrollment routes find it on the app; the CRL is kept fresh beside.
            self.enrollment = Enrollment(
                config.enrollment, self.store.engine, on_enrolled=self._enrolled_in_site
            )
            self.api.app.state.enrollment = self.enrollment
            self.supervisor.add(Worker("crl", self.enrollment.run_housekeeping, DEVICE))

    def _enrolled_in_site(self, gateway_id: str, site: str) -> None:
        self.config_store.assign_site(
            gateway_id, site, who="enrollment", reason="enrolled with a site-bound token"
        )

    def _wake_alerts(self) -> None:
        self.alerts.wake()

    def run(self) -> int:
        """Run until stopped; returns the process exit code (non-zero: a worker gave up)."""
        b = self.config.broker
        log.info(
            "controller starting: broker %s:%d, database %s",
            b.host,
            b.port,
            redact(self.config.database.url),
        )
        code = self.supervisor.run_until(self.stop_event)
        stuck = self.supervisor.stop(8.0)
        if stuck:
            log.error("abandoned worker(s) that did not stop in time: %s", ", ".join(stuck))
        self._write_status()
        log.info("controller stopped (exit %d)", code)
        return code

    def status_rows(self) -> list[dict[str, Any]]:
        now = time.time()
        rows = []
        for name, entry in self.supervisor.report().items():
            error = entry.get("last_error", "")
            if name == "ingest" and self.ingest.stats.store_down_since is not None:
                error = f"database unavailable since {self.ingest.stats.store_down_since:.0f}: "
                error += self.ingest.stats.last_error
            if name == "crl" and self.enrollment is not None and self.enrollment.crl_problem:
                error = f"CRL not written (the old one stays): {self.enrollment.crl_problem}"
            rows.append(
                {
                    "name": name,
                    "state": entry["state"],
                    "restarts": entry["restarts"],
                    "last_error": redact(error)[:500],
                    "since": entry["since"],
                    "updated_at": now,
                }
            )
        return rows

    def _write_status(self) -> None:
        try:
            self.store.save_status(self.status_rows())
        except Exception as exc:  # the database may be the very thing that is down
            log.warning("controller status not saved: %s", type(exc).__name__)

    def _publish_status(self, stop: threading.Event) -> None:
        while not stop.wait(STATUS_INTERVAL_S):
            self._write_status()
