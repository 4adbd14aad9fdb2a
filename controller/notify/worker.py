"""The notification worker: follows the alert journal and hands each change to its lanes.

Progress, exactly (docs/notifications.md says the same for operators):

- ``counters['notify.cursor']``: every journal row up to this id is finished for every lane
  (delivered, dead-lettered, or for nobody). A first start begins at the journal's current end, so
  a new installation does not replay history.
- ``counters['notify.lane.<channel>']`` (and ``notify.lane.mqtt``): the last row that lane
  finished, written in the same transaction as the delivery's counters or dead letter.
- A restart reads again from ``notify.cursor`` and offers each row only to the lanes whose own
  row is older, so what a channel was handed (delivered or dead-lettered) is not repeated, and
  what was still queued or in flight is sent after the restart: at least once, never lost.
  The one window for a repeat is a crash between a service accepting a message and the
  transaction that records it.

The journal is read in id order. A gap (an id not yet visible, e.g. another transaction still
committing on PostgreSQL) is waited for up to :data:`GAP_WAIT_S` by the row's own time before it
is passed over, so a late commit is not skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from common.redact import redact
from controller.notify.channel import AppriseChannel, ChannelError, install_log_filter
from controller.notify.dispatcher import ChannelLane, Sleep
from controller.notify.journal import (
    CURSOR,
    BadEntry,
    DeadLetter,
    JournalEntry,
    NotifyStore,
    lane_cursor,
    parse_entry,
)
from controller.notify.lane import Lane
from controller.notify.mqtt_out import LANE as MQTT_LANE
from controller.notify.mqtt_out import AlertPublisher, MqttLane, identity_problem
from controller.notify.routes import Decision, route

if TYPE_CHECKING:
    from controller.access.directory import Directory
    from controller.config import ControllerConfig
    from controller.store.repo import Store

log = logging.getLogger(__name__)

BATCH = 500
GAP_WAIT_S = 2.0
PRUNE_EVERY_S = 600.0
LANE_STOP_S = 3.0


def readable(after_id: int, rows: Sequence[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The rows that may be processed now: up to the first gap in the ids that is younger than
    :data:`GAP_WAIT_S` (a transaction with a smaller id may still commit)."""
    out: list[dict[str, Any]] = []
    expected = after_id + 1
    for row in rows:
        if int(row["id"]) != expected and now - float(row["at"]) < GAP_WAIT_S:
            break
        out.append(row)
        expected = int(row["id"]) + 1
    return out


class NotifyWorker:
    def __init__(
        self,
        config: ControllerConfig,
        store: Store,
        directory: Directory,
        clock: Callable[[], float] = time.time,
        *,
        sleep: Sleep | None = None,
    ) -> None:
        self.config = config
        self.section = config.notifications
        self.store = store
        self.directory = directory
        self.clock = clock
        self._sleep = sleep  # tests record back-off intervals instead of waiting
        self.lanes: dict[str, Lane] = {}
        self.position = 0
        self.ready = threading.Event()
        self._saved = -1
        self._warned: set[str] = set()

    def run(self, stop: threading.Event) -> None:
        install_log_filter()
        nstore = NotifyStore(self.store, clock=self.clock)
        self.position = self._start_position(nstore)
        self._saved = self.position
        publisher = self._open_lanes(nstore)  # objects only: threads start below
        try:
            if publisher is not None:
                publisher.start()
            for lane in self.lanes.values():
                lane.start()
            self.ready.set()
            self._follow(nstore, stop)
        finally:
            self.ready.clear()
            for lane in self.lanes.values():
                lane.request_stop()
            deadline = time.monotonic() + LANE_STOP_S
            stuck = [n for n, ln in self.lanes.items() if not ln.join(deadline - time.monotonic())]
            if stuck:
                log.warning("notify lanes still busy at stop: %s", ", ".join(stuck))
            if publisher is not None:
                publisher.stop()
            try:
                self._save_cursor(nstore)
            except Exception as exc:  # the database may be why we stop; the cursor only lags
                log.warning("notify cursor not saved at stop: %s", type(exc).__name__)
            self.lanes = {}

    # -- start-up -----------------------------------------------------------------------

    def _start_position(self, nstore: NotifyStore) -> int:
        cursor = nstore.load_cursor(CURSOR)
        if cursor is None:
            cursor = nstore.last_journal_id()
            nstore.save_cursor(CURSOR, cursor)
            log.info("notifications start at the end of the alert journal (id %d)", cursor)
        return cursor

    def _open_lanes(self, nstore: NotifyStore) -> AlertPublisher | None:
        done = nstore.cursors("notify.lane.")
        self.lanes = {}
        if self.section.enabled:
            for name, section in self.section.channels.items():
                if not section.enabled:
                    continue
                try:
                    channel = AppriseChannel(name, section)
                except ChannelError as exc:
                    log.error("%s; its notifications are dead-lettered", exc)
                    continue
                self.lanes[name] = ChannelLane(
                    channel,
                    self.section,
                    nstore,
                    done_through=done.get(lane_cursor(name), 0),
                    sleep=self._sleep,
                )
        for aid, agency in self.directory.agencies.items():
            for name in agency.channels:
                if name not in self.section.channels:
                    log.warning("agencies.%s.channels: no channel %r in notifications", aid, name)
        return self._open_mqtt(nstore, done)

    def _open_mqtt(self, nstore: NotifyStore, done: dict[str, int]) -> AlertPublisher | None:
        mqtt = self.section.mqtt
        if not mqtt.enabled:
            return None
        problem = identity_problem(self.config.broker, mqtt)
        if problem:
            log.error("alert publication off: %s", problem)
            return None
        publisher = AlertPublisher(self.config.broker, mqtt.tls)
        self.lanes[MQTT_LANE] = MqttLane(
            publisher,
            nstore,
            queue_max=mqtt.queue_max,
            done_through=done.get(lane_cursor(MQTT_LANE), 0),
        )
        return publisher

    # -- following the journal ----------------------------------------------------------

    def _follow(self, nstore: NotifyStore, stop: threading.Event) -> None:
        next_prune = 0.0
        while not stop.is_set():
            rows = readable(self.position, nstore.rows_after(self.position, BATCH), self.clock())
            for raw in rows:
                self._dispatch(nstore, raw)
                self.position = int(raw["id"])
            self._save_cursor(nstore)
            if time.monotonic() >= next_prune:
                dl = self.section.dead_letters
                pruned = nstore.prune_dead(dl.retention_days, dl.max_rows)
                if pruned:
                    log.info("pruned %d old dead-lettered notifications", pruned)
                next_prune = time.monotonic() + PRUNE_EVERY_S
            if len(rows) < BATCH:
                stop.wait(self.section.poll_interval_s)

    def _dispatch(self, nstore: NotifyStore, raw: dict[str, Any]) -> None:
        try:
            entry = parse_entry(raw)
        except BadEntry as exc:
            log.warning("notify: %s; skipped", redact(str(exc)))
            nstore.bump({"notify.bad_rows": 1})
            return
        decision = (
            route(entry, self.section, self.directory.channels_of)
            if self.section.enabled
            else Decision()
        )
        for name, reasons in decision.targets.items():
            lane = self.lanes.get(name)
            if lane is None:
                self._unavailable(nstore, entry, name)
            elif lane.wants(entry.id):
                lane.submit(entry, reasons)
        for name, why in decision.skipped.items():
            self._note_skip(entry, name, why)
        mqtt = self.lanes.get(MQTT_LANE)
        if mqtt is not None and mqtt.wants(entry.id):
            mqtt.submit(entry)

    def _unavailable(self, nstore: NotifyStore, entry: JournalEntry, name: str) -> None:
        """A channel apprise could not set up: its notifications are recorded, not lost."""
        nstore.record_dead(
            DeadLetter(name, entry.alert_id, entry.id, 0, "channel_unavailable: bad URL", "", ""),
            None,
            {"notify.dead": 1, "notify.dead.channel_unavailable": 1},
        )

    def _note_skip(self, entry: JournalEntry, name: str, why: str) -> None:
        if name not in self.section.channels and name not in self._warned:
            self._warned.add(name)
            log.warning("notify: route target %s skipped: %s", name, why)
        else:
            log.debug("notify: journal %d not to %s: %s", entry.id, name, why)

    def _save_cursor(self, nstore: NotifyStore) -> None:
        marks = [self.position] + [
            lw for lane in self.lanes.values() if (lw := lane.low_water()) is not None
        ]
        cursor = min(marks)
        if cursor != self._saved:
            nstore.save_cursor(CURSOR, cursor)
            self._saved = cursor
