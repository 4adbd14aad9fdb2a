"""The update's steps inside the running agent: download, verify, install, switch, restart, and,
in the new version, the trial that ends in a commit.

Every step is announced in the state file before it acts (:class:`~agent.update.state.StateStore`
fsyncs it), so a process killed anywhere is resumed or undone by the next start: a pre-switch
step resumes (the download where it stopped) until the loop breaker (``max_attempts``) fails the
update; a switch is finished by the launcher; the trial is decided by the new version or, when it
cannot decide, by the launcher's deadline and crash counter.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.update import state as st
from agent.update.download import Downloader, DownloadError, Progress
from agent.update.install import Installer, InstallError
from agent.update.slots import Slots
from common.release import ReleaseRefused, TrustStore, verify_release_dir

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
TRIAL_WINDOW_S = 300.0
# Cut connections in a row that brought no new byte before an attempt fails. A cut after
# progress resets the count: a 4G link that drops every few minutes still finishes a long
# download (each resume asks only for the rest), while a server that never sends gives up.
DOWNLOAD_RETRIES = 3
RETRY_PAUSE_S = 2.0
PROGRESS_PERSIST_BYTES = 4 * 1024 * 1024  # the file records progress now and then, not per chunk


@dataclass(frozen=True)
class UpdateRequest:
    url: str
    version: str
    rollout: str = ""
    allow_downgrade: bool = False


class UpdateRejected(Exception):
    """The request cannot start: another update is under way, it asks for what runs now, or
    the disk refuses to record it (``reason`` then says how)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


# The storage faults an update can meet, as the stable reason codes health carries (the same
# words the outbox uses for its own disk in ``link.disk_error``).
STORAGE_ERRNOS = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
    errno.EROFS: "read_only",
    errno.EIO: "io_error",
}
STORAGE_WORDS = {
    "No space left on device": "disk_full",
    "Disk quota exceeded": "disk_full",
    "Read-only file system": "read_only",
    "Input/output error": "io_error",
}


def storage_fault(exc: BaseException) -> str | None:
    """``disk_full``, ``read_only`` or ``io_error`` when ``exc`` is the disk's refusal (an
    OSError, or pip's words for one in an install error), else None."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        return STORAGE_ERRNOS[exc.errno]
    text = str(exc)
    return next((kind for words, kind in STORAGE_WORDS.items() if words in text), None)


class Stopped(Exception):
    """The agent is stopping: the step is left as persisted and resumes at the next start."""


class StepFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class Updater:
    def __init__(
        self,
        directory: Path,
        base: Path,
        trust: Callable[[], TrustStore],
        running_version: str,
        *,
        installer: Installer,
        rate: float | None = None,
        trial_window_s: float = TRIAL_WINDOW_S,
        restart: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        hook: Callable[[str], None] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        retry_pause_s: float = RETRY_PAUSE_S,
        stop: threading.Event | None = None,
    ) -> None:
        self.store = st.StateStore(directory, clock)
        self.slots = Slots(directory, base)
        self.trust = trust
        self.running_version = running_version
        self.installer = installer
        self.rate = rate
        self.trial_window_s = trial_window_s
        self.restart = restart
        self.clock = clock
        self.hook = hook or (lambda _state: None)
        self.max_attempts = max_attempts
        self.retry_pause_s = retry_pause_s
        self.stop = stop or threading.Event()
        self.progress = Progress()
        self._lock = threading.Lock()

    # -- starting and resuming -------------------------------------------------------------

    def begin(self, request: UpdateRequest) -> st.UpdateRecord:
        """Persist ``downloading`` for a new attempt (the caller then runs :meth:`run`)."""
        with self._lock:
            record = self.store.load()
            if record.state not in st.TERMINAL:
                raise UpdateRejected(
                    f"an update to {record.target} is {record.state}; wait for its outcome"
                )
            if request.version == self.running_version:
                raise UpdateRejected(f"this gateway already runs {request.version}")
            now = self.clock()
            self.progress = Progress()
            fresh = st.UpdateRecord(state=record.state)
            try:
                return self._save_begin(fresh, request, now)
            except OSError as exc:
                kind = storage_fault(exc) or "storage_error"
                raise UpdateRejected(
                    f"{kind}: cannot record the update in {self.slots.directory}: "
                    f"{exc.strerror or exc}; nothing was started. {self._free_hint()}",
                    reason=kind,
                ) from None

    def _save_begin(
        self, fresh: st.UpdateRecord, request: UpdateRequest, now: float
    ) -> st.UpdateRecord:
        return self.store.save(
            st.advance(
                fresh,
                st.DOWNLOADING,
                now,
                target=request.version,
                previous=self.running_version,
                url=request.url,
                rollout=request.rollout,
                allow_downgrade=request.allow_downgrade,
                target_slot=str(self.slots.slot(request.version)),
                previous_slot=str(self.slots.current()),
                attempt=1,
                trial_window_s=self.trial_window_s,
                started_at=now,
            )
        )

    def _free_hint(self) -> str:
        try:
            free = shutil.disk_usage(self.slots.directory).free
        except OSError:
            return "Free space there and send the update again."
        return f"{free} bytes free there: free space and send the update again."

    def recover(self) -> st.UpdateRecord:
        """At start-up: count the restart of an interrupted pre-switch step (the loop breaker),
        or fail the update when it has been started too often."""
        try:
            record = self.store.load()
        except st.StateError as exc:
            return self._damaged(exc)
        if record.state in (st.RESTARTING, st.TRIAL) and record.target != self.running_version:
            return self._rolled_back_unrecorded(record)
        if record.state not in st.PRE_SWITCH:
            return record
        if record.attempt >= self.max_attempts:
            return self._fail(
                "attempts_exhausted",
                f"the update was interrupted {record.attempt} times in {record.state}",
            )
        log.warning("resuming the update to %s in %s (attempt %d)", record.target,
                    record.state, record.attempt + 1)  # fmt: skip
        return self.store.update(attempt=record.attempt + 1)

    def _rolled_back_unrecorded(self, record: st.UpdateRecord) -> st.UpdateRecord:
        """This version started while the file still says the new one is on trial: the launcher
        could not write the state (a full or failing disk) and started the previous version
        instead. The rollback is recorded here, or held in memory until the disk takes it, so
        health says ``rolled_back`` rather than a trial nobody runs."""
        now = self.clock()
        detail = (
            f"the launcher could not write the update state in {self.slots.directory} and "
            f"started {self.running_version} instead of trying {record.target}"
        )
        log.error("update to %s rolled back: %s", record.target, detail)
        rolling = st.advance(record, st.ROLLING_BACK, now, reason=st.UNRECORDED_ROLLBACK)
        done = st.advance(rolling, st.ROLLED_BACK, now, reason=st.UNRECORDED_ROLLBACK,
                          detail=detail)  # fmt: skip
        return self.store.save_or_hold(done)

    def _damaged(self, exc: st.StateError) -> st.UpdateRecord:
        """A state file that cannot be read (a disk fault): kept aside for a person to look at,
        and replaced by a ``failed`` record; the launcher ran ``current``, which is what runs."""
        log.error("update state damaged, kept as %s.damaged: %s", self.store.path, exc)
        os.replace(self.store.path, self.store.path.with_name(self.store.path.name + ".damaged"))
        record = st.UpdateRecord(state=st.FAILED, outcome="failed", reason="state_unreadable",
                                 detail=str(exc)[:500], since=self.clock())  # fmt: skip
        return self.store.save(record)

    def pending(self) -> bool:
        """There is a step for this process to run (pre-switch, or a switch it started)."""
        return self.store.load().state in (*st.PRE_SWITCH, st.SWITCHING)

    # -- the steps -------------------------------------------------------------------------

    def run(self) -> st.UpdateRecord:
        """Drive the persisted attempt to ``restarting`` (then ask for the restart), ``failed``
        or ``rolling_back``. Raises nothing but :class:`Stopped`."""
        steps: dict[str, Callable[[st.UpdateRecord], st.UpdateRecord]] = {
            st.DOWNLOADING: self._download,
            st.VERIFYING: self._verify,
            st.INSTALLING: self._install,
            st.SWITCHING: self._switch,
        }
        record = self.store.load()
        while record.state in steps:
            try:
                self.hook(record.state)
                record = steps[record.state](record)
            except Stopped:
                # A clean stop (systemd, a restart command) is not an interrupted attempt: give
                # back the one recover() will count at the next start.
                self.store.update(attempt=max(0, record.attempt - 1))
                raise
            except ReleaseRefused as exc:
                record = self._fail(exc.reason_code, exc.message)
            except StepFailed as exc:
                record = self._fail(exc.reason, exc.detail)
            except OSError as exc:
                kind = storage_fault(exc)
                if kind is None:
                    log.exception("update step %s failed", record.state)
                    kind, why = f"{record.state}_error", f"{type(exc).__name__}: {exc}"
                else:
                    why = f"{record.state}: {exc.strerror or exc} in {self.slots.directory}"
                record = self._fail(kind, why)
            except Exception as exc:  # an unexpected error must end the attempt, not the agent
                log.exception("update step %s failed", record.state)
                record = self._fail(f"{record.state}_error", f"{type(exc).__name__}: {exc}")
        if record.state == st.RESTARTING:
            try:
                self.hook(st.RESTARTING)
            except Exception as exc:
                record = self.store.advance(
                    st.ROLLING_BACK, reason="restart_error", detail=f"{type(exc).__name__}: {exc}"
                )
            log.warning("update to %s switched; restarting into it", record.target)
            self.restart()
        return record

    def _downloader(self, record: st.UpdateRecord) -> Downloader:
        return Downloader(
            record.url,
            self.slots.downloads(record.target),
            cache=self.slots.wheel_cache,
            rate=self.rate,
        )

    def _download(self, record: st.UpdateRecord) -> st.UpdateRecord:
        downloader = self._downloader(record)
        now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        stalled = 0  # cuts in a row without a new byte
        while True:
            if self.stop.is_set():
                raise Stopped
            before = self.progress.done
            try:
                manifest = downloader.manifest(
                    self.trust(), now, self.running_version, record.allow_downgrade
                )
                if manifest.version != record.target:
                    raise StepFailed(
                        "version_mismatch",
                        f"the release at the URL is {manifest.version}, the command asked for "
                        f"{record.target}",
                    )
                downloader.files(manifest, self._on_progress)
                break
            except DownloadError as exc:
                stalled = 0 if self.progress.done > before else stalled + 1
                log.warning("download of %s: %s (%d of %d tries in a row without progress)",
                            record.target, exc, stalled, DOWNLOAD_RETRIES)  # fmt: skip
                if stalled >= DOWNLOAD_RETRIES:
                    raise StepFailed("download_error", str(exc)) from None
                if self.stop.wait(self.retry_pause_s):
                    raise Stopped from None
        done = self.progress.done
        return self.store.advance(st.VERIFYING, bytes_done=done, bytes_total=self.progress.total)

    def _on_progress(self, progress: Progress) -> None:
        if self.stop.is_set():
            raise Stopped
        previous = self.progress.done
        self.progress = Progress(progress.done, progress.total)
        if progress.done // PROGRESS_PERSIST_BYTES != previous // PROGRESS_PERSIST_BYTES:
            self.store.update(bytes_done=progress.done, bytes_total=progress.total)

    def _verify(self, record: st.UpdateRecord) -> st.UpdateRecord:
        now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        directory = self.slots.downloads(record.target)
        manifest = verify_release_dir(
            directory, self.trust(), now, self.running_version,
            allow_downgrade=record.allow_downgrade,
        )  # fmt: skip
        if manifest.version != record.target:
            raise StepFailed("version_mismatch", f"downloaded {manifest.version}")
        self._downloader(record).keep_in_cache(manifest)
        return self.store.advance(st.INSTALLING)

    def _install(self, record: st.UpdateRecord) -> st.UpdateRecord:
        slot = Path(record.target_slot)
        if self.slots.points_at(slot):
            raise StepFailed("install_error", f"{slot} is the running slot")
        try:
            self.installer.install(record.target, self.slots.downloads(record.target), slot)
        except InstallError as exc:
            shutil.rmtree(slot, ignore_errors=True)
            raise StepFailed(storage_fault(exc) or "install_error", str(exc)) from None
        return self.store.advance(st.SWITCHING)

    def _switch(self, record: st.UpdateRecord) -> st.UpdateRecord:
        slot, previous = Path(record.target_slot), Path(record.previous_slot)
        try:
            self.slots.switch(slot, previous)
        except OSError as exc:
            if self.slots.points_at(slot):  # the flip happened: undo it before failing
                self.slots.switch(previous, slot)
            raise StepFailed("switch_error", str(exc)) from None
        return self.store.advance(st.RESTARTING)

    def _fail(self, reason: str, detail: str) -> st.UpdateRecord:
        """End the attempt as ``failed``. What it leaves behind goes first (the half-built slot,
        and the download unless a later attempt may resume it): on a full disk that is what
        makes room for the outcome. An outcome the disk still refuses is held in memory, so
        health reports it and the worker goes on; the old version runs either way."""
        record = self.store.load()
        log.error("update to %s failed in %s: %s: %s", record.target, record.state, reason, detail)
        if self.slots.points_at(Path(record.target_slot)) and record.previous_slot:
            self.slots.switch(Path(record.previous_slot), Path(record.target_slot))
        self._tidy(record, reason)
        if reason in STORAGE_ERRNOS.values():
            detail = f"{detail}. {self._free_hint()}"
        failed = st.advance(record, st.FAILED, self.clock(), reason=reason, detail=detail[:500])
        self.store.save_or_hold(failed)
        if self.store.held is not None:
            log.error("the outcome cannot be written to %s either; reported from memory",
                      self.store.path)  # fmt: skip
        return failed

    def _tidy(self, record: st.UpdateRecord, reason: str) -> None:
        """Remove what a failed attempt leaves behind. A read-only or failing disk refuses this
        too; :meth:`health` calls it again once the held outcome could be written."""
        if record.target_slot and not self.slots.points_at(Path(record.target_slot)):
            shutil.rmtree(record.target_slot, ignore_errors=True)
        if reason not in ("download_error", "attempts_exhausted"):
            shutil.rmtree(self.slots.downloads(record.target), ignore_errors=True)
        if reason in STORAGE_ERRNOS.values():  # the cached wheels would keep the disk full
            self._prune_cache(for_space=True)

    # -- the trial, in the new version -----------------------------------------------------

    def in_trial(self) -> bool:
        record = self.store.load()
        return record.state == st.TRIAL and record.target == self.running_version

    def trial_step(self, healthy: bool, why_not: str = "") -> str:
        """One look at the trial: ``committed`` when healthy in time, ``rolling_back`` when the
        deadline passed (the launcher then restores the previous version), else ``waiting``."""
        with self._lock:
            record = self.store.load()
            if record.state != st.TRIAL or record.target != self.running_version:
                return record.state
            if self.clock() >= record.trial_deadline:
                self.store.advance(
                    st.ROLLING_BACK,
                    reason="trial_deadline",
                    detail=f"not healthy within {record.trial_window_s:g} s: {why_not}"[:500],
                )
                self.restart()
                return st.ROLLING_BACK
            if not healthy:
                return "waiting"
            self.store.advance(st.COMMITTED, reason="", detail="")
        log.warning("update to %s committed", record.target)
        self.prune()
        return st.COMMITTED

    def fail_trial(self, reason: str, detail: str) -> None:
        """The new version knows it cannot work (a worker gave up): roll back now."""
        if self.in_trial():
            self.store.advance(st.ROLLING_BACK, reason=reason, detail=detail[:500])
            self.restart()

    def prune(self) -> None:
        """After a commit: keep the slots ``current`` and ``previous`` use and the running
        version's download; drop older slots, downloads and cached wheels."""
        keep = {os.path.realpath(p) for p in (self.slots.current(), self.slots.target("previous"))
                if p is not None}  # fmt: skip
        for parent in (self.slots.slots, self.slots.directory / "downloads"):
            if not parent.is_dir():
                continue
            for path in parent.iterdir():
                if os.path.realpath(path) in keep or path.name == self.running_version:
                    continue
                with contextlib.suppress(OSError):
                    shutil.rmtree(path)
        self._prune_cache()

    def _prune_cache(self, for_space: bool = False) -> None:
        """The wheel cache keeps what the running release is made of (what the next one most
        likely shares); wheels only other releases used go. Unless space is needed, a running
        version with no download of its own (the base install) keeps the cache whole."""
        release = self.slots.downloads(self.running_version)
        cache = self.slots.wheel_cache
        if cache.is_dir() and (for_space or release.is_dir()):
            wanted = {p.name for p in release.iterdir()} if release.is_dir() else set()
            for path in cache.iterdir():
                if path.name not in wanted:
                    with contextlib.suppress(OSError):
                        path.unlink()

    # -- reporting --------------------------------------------------------------------------

    def health(self) -> dict[str, Any] | None:
        """The ``update`` section of health, or None when this gateway was never updated."""
        if not self.store.exists():
            return None
        held = self.store.held is not None
        try:
            record = self.store.load()
        except st.StateError as exc:
            return {"state": "failed", "outcome": "failed", "reason": "state_unreadable",
                    "detail": str(exc)[:500]}  # fmt: skip
        if held and self.store.held is None and record.state == st.FAILED:
            self._tidy(record, record.reason)  # the disk takes writes again: finish the cleanup
        done, total = record.bytes_done, record.bytes_total
        if record.state == st.DOWNLOADING:
            done, total = self.progress.done or done, self.progress.total or total
        return {
            "state": record.state,
            "target": record.target,
            "previous": record.previous,
            "outcome": record.outcome,
            "reason": record.reason,
            "detail": record.detail,
            "rollout": record.rollout,
            "attempt": record.attempt,
            "bytes_done": done,
            "bytes_total": total,
            "since": record.since,
        }
