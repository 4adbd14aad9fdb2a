"""The fleet registry: the one owner of every gateway's live state in the controller.

Ingest changes state only through a :class:`Stage`, a copy-on-write view of the gateways a batch
touches. The stage is saved inside the batch's transaction and installed only after the commit,
so a batch that fails to commit leaves the registry exactly as it was (it once changed state
first and committed after: the next batch from another gateway then failed too).

Readers that come later (API, alerts, rollouts) use :meth:`FleetRegistry.snapshot` and
:meth:`FleetRegistry.get`; only the ingest thread writes.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable

from controller.fleet.presence import GatewayState


class Stage:
    """The gateways one batch changes, as private copies of the registry's state."""

    def __init__(self, base: dict[str, GatewayState]) -> None:
        self._base = base
        self.changed: dict[str, GatewayState] = {}

    def gateway(self, gid: str, now: float) -> GatewayState:
        """This batch's copy of a gateway, created on first sight."""
        gw = self.changed.get(gid)
        if gw is not None:
            return gw
        known = self._base.get(gid)
        gw = (
            copy.copy(known)
            if known is not None
            else GatewayState(id=gid, first_seen=now, last_seen=now, state_since=now)
        )
        self.changed[gid] = gw
        return gw

    def checkpoint(self, gid: str) -> GatewayState | None:
        """A copy to go back to if applying one message fails half-way."""
        gw = self.changed.get(gid)
        return copy.copy(gw) if gw is not None else None

    def restore(self, gid: str, saved: GatewayState | None) -> None:
        if saved is None:
            self.changed.pop(gid, None)
        else:
            self.changed[gid] = saved

    def to_save(self, flush_touched: bool) -> list[GatewayState]:
        """Rows this batch writes: presence changes always, last-seen/health when due."""
        return [gw for gw in self.changed.values() if gw.dirty or (flush_touched and gw.touched)]


class FleetRegistry:
    """Gateway id -> state. Single writer (ingest); readers get copies under a lock."""

    def __init__(self, gateways: dict[str, GatewayState]) -> None:
        self._gateways = gateways
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._gateways)

    def stage(self) -> Stage:
        return Stage(self._gateways)

    def stage_where(self, wanted: Callable[[GatewayState], bool]) -> Stage:
        """A stage holding copies of the gateways ``wanted`` picks (for sweeps such as presence
        expiry: the few that are due, not a copy of the whole fleet every second)."""
        stage = Stage(self._gateways)
        for gid, gw in self._gateways.items():
            if wanted(gw):
                stage.changed[gid] = copy.copy(gw)
        return stage

    def install(self, stage: Stage, saved: Iterable[GatewayState]) -> None:
        """After a commit: the stage becomes the registry; saved rows are clean again."""
        for gw in saved:
            gw.dirty = gw.touched = False
        with self._lock:
            self._gateways.update(stage.changed)

    def touched(self) -> list[GatewayState]:
        """Installed gateways with unsaved last-seen/health updates (flushed once a second)."""
        return [gw for gw in self._gateways.values() if gw.touched or gw.dirty]

    def forget(self, gid: str) -> bool:
        """Drop a decommissioned gateway (``kendali fleet forget`` / ``DELETE /gateways``), so
        the next flush does not write it back. Returns whether it was known."""
        with self._lock:
            return self._gateways.pop(gid, None) is not None

    def get(self, gid: str) -> GatewayState | None:
        with self._lock:
            gw = self._gateways.get(gid)
            return copy.copy(gw) if gw is not None else None

    def snapshot(self) -> list[GatewayState]:
        with self._lock:
            return [copy.copy(gw) for gw in self._gateways.values()]
