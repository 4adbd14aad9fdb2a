"""The simulated device: a pty whose far end an agent opens like a real serial port.

``--link`` keeps a stable symlink (like /dev/serial/by-id) pointing at the current pty, so an
unplug (pty closed, link removed) followed by a replug (new pty, link restored) looks to the
agent exactly like a USB adapter being pulled and put back.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from firmware_profiles.schema import FirmwareProfile, Resource
from sim.sensor.encode import Values
from sim.sensor.faults import FaultPlan
from sim.sensor.responders import make_responder
from sim.sensor.scripts import Script, const

log = logging.getLogger(__name__)


def default_value(res: Resource) -> float | str:
    if res.example is not None:
        return res.example
    if res.min is not None and res.max is not None:
        return (res.min + res.max) / 2
    return 0.0


class PtySensor:
    """Runs one simulated device in a thread until ``stop``."""

    def __init__(
        self,
        profile: FirmwareProfile,
        *,
        address: int | None = None,
        scripts: dict[str, Script] | None = None,
        faults: FaultPlan | None = None,
        link: Path | None = None,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self.faults = faults or FaultPlan()
        self.link = link
        self.interval_s = interval_s
        self.clock = clock
        self.scripts: dict[str, Script] = {}
        self.texts: dict[str, str] = {}
        for res in profile.resources:
            start = default_value(res)
            if isinstance(start, str):
                self.texts[res.name] = start
            else:
                self.scripts[res.name] = const(float(start))
        for check in profile.identity:
            if check.equals_address and address is not None:
                # a real device's address register says the address it answers at
                self.scripts[check.resource] = const(float(address))
        self.scripts.update(scripts or {})
        self.responder = make_responder(profile, self.values, address)
        self.requests = 0
        self.replies = 0
        self._master = -1
        self._slave = -1
        self.path = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = clock()
        self._last_request = clock()
        self._manual_unplug = False

    def elapsed(self) -> float:
        return self.clock() - self._t0

    def values(self) -> Values:
        t = self.elapsed()
        out: Values = {name: script(t) for name, script in self.scripts.items()}
        out.update(self.texts)
        return out

    def set_value(self, name: str, value: float) -> None:
        self.scripts[name] = const(value)

    # --- pty lifecycle -------------------------------------------------------------------
    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.path)
            tmp.replace(self.link)
        log.info("simulated %s on %s", self.profile.model, self.path)

    def _unplug(self) -> None:
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    @property
    def plugged(self) -> bool:
        return self._master >= 0

    def unplug(self) -> None:
        """Pull the cable now (tests); stays unplugged until ``replug``."""
        with self._lock:
            self._manual_unplug = True
            if self.plugged:
                self._unplug()

    def replug(self) -> None:
        with self._lock:
            self._manual_unplug = False
            if not self.plugged:
                self._plug()

    def start(self) -> PtySensor:
        self._plug()
        self._thread = threading.Thread(
            target=self._run, name=f"sim-{self.profile.model}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self.plugged:
                self._unplug()

    def __enter__(self) -> PtySensor:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- the loop --------------------------------------------------------------------------
    def _run(self) -> None:
        next_stream = self.clock()
        while not self._stop.is_set():
            with self._lock:
                self._schedule_unplug()
                master = self._master
            if master < 0:
                self._stop.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.02)
            except (OSError, ValueError):
                continue  # closed under us by unplug()
            with self._lock:
                if self._master != master:
                    continue
                if ready:
                    self._on_data(self._read())
                if self.responder.streaming and self.clock() >= next_stream:
                    next_stream = self.clock() + self.interval_s
                    self._emit(self.responder.unsolicited())

    def _schedule_unplug(self) -> None:
        if self._manual_unplug or not self.faults.unplug_windows:
            return
        should = self.faults.unplugged_at(self.elapsed())
        if should and self.plugged:
            log.info("fault: unplug %s", self.path)
            self._unplug()
        elif not should and not self.plugged:
            self._plug()

    def _read(self) -> bytes:
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: nobody has the far end open
                log.debug("pty read: %s", exc)
            return b""

    def _on_data(self, data: bytes) -> None:
        if not data:
            return
        if self.faults.echo:
            self._write(data)
        now = self.clock()
        idle = now - self._last_request
        self._last_request = now
        for reply in self.responder.feed(data):
            self.requests += 1
            sleepy = self.faults.sleep_after_s
            if sleepy is not None and idle > sleepy:
                idle = 0.0
                log.info("fault: asleep, dropping the first request")
                continue
            if self.faults.silent_at(self.elapsed()) or self.faults.chance(self.faults.silence):
                continue
            self._emit(reply)

    def _emit(self, reply: bytes) -> None:
        if not reply:
            return
        if self.faults.silent_at(self.elapsed()):
            return
        if self.faults.chance(self.faults.checksum):
            reply = self.responder.corrupt(reply)
        if self.faults.chance(self.faults.garbage):
            reply = self.faults.rng.randbytes(self.faults.rng.randint(1, 16)) + reply
        self.replies += 1
        self._write(reply)

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except (BlockingIOError, OSError) as exc:
            log.debug("pty write dropped: %s", exc)
