"""The update's persisted state: one small JSON file, written atomically and fsynced BEFORE the
step it announces takes effect, so a process killed at any instant restarts into a state that
says exactly what may have happened.

Standard library only: the launcher reads and writes this file before any agent code runs.

States (docs/agent-update.md has the picture)::

    idle -> downloading -> verifying -> installing -> switching -> restarting -> trial
         -> committed | rolling_back -> rolled_back                       (any pre-switch step)
                                                                           -> failed
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "update-state.json"

IDLE = "idle"
DOWNLOADING = "downloading"
VERIFYING = "verifying"
INSTALLING = "installing"
SWITCHING = "switching"
RESTARTING = "restarting"
TRIAL = "trial"
COMMITTED = "committed"
ROLLING_BACK = "rolling_back"
ROLLED_BACK = "rolled_back"
FAILED = "failed"

STATES = (
    IDLE, DOWNLOADING, VERIFYING, INSTALLING, SWITCHING, RESTARTING, TRIAL, COMMITTED,
    ROLLING_BACK, ROLLED_BACK, FAILED,
)  # fmt: skip
TERMINAL = frozenset({IDLE, COMMITTED, ROLLED_BACK, FAILED})
# Before the switch the running version is untouched: an error ends in ``failed``.
PRE_SWITCH = frozenset({DOWNLOADING, VERIFYING, INSTALLING})
# After the switch (or during it) only a commit or a rollback may end the attempt.
POST_SWITCH = frozenset({RESTARTING, TRIAL, ROLLING_BACK})

# Which state may follow which. A pre-switch step may repeat itself (resumed after a restart);
# switching may fail only while ``current`` still points at the old slot (the updater checks).
ALLOWED: dict[str, frozenset[str]] = {
    IDLE: frozenset({DOWNLOADING}),
    DOWNLOADING: frozenset({DOWNLOADING, VERIFYING, FAILED}),
    VERIFYING: frozenset({VERIFYING, INSTALLING, FAILED}),
    INSTALLING: frozenset({INSTALLING, SWITCHING, FAILED}),
    SWITCHING: frozenset({SWITCHING, RESTARTING, FAILED, ROLLING_BACK}),
    RESTARTING: frozenset({TRIAL, ROLLING_BACK}),
    TRIAL: frozenset({TRIAL, COMMITTED, ROLLING_BACK}),
    ROLLING_BACK: frozenset({ROLLING_BACK, ROLLED_BACK}),
    COMMITTED: frozenset({DOWNLOADING}),
    ROLLED_BACK: frozenset({DOWNLOADING}),
    FAILED: frozenset({DOWNLOADING}),
}
OUTCOMES = {COMMITTED: "committed", ROLLED_BACK: "rolled_back", FAILED: "failed"}
# The reason of a rollback the launcher made while the disk refused the state file: it started
# the previous version instead of the trial, and whoever can write next records it.
UNRECORDED_ROLLBACK = "state_unwritable"


class StateError(Exception):
    """A transition the machine does not allow, or a state file that cannot be read."""


@dataclass(frozen=True)
class UpdateRecord:
    """Everything a restarted process needs to finish or undo the attempt."""

    state: str = IDLE
    target: str = ""  # version being installed
    previous: str = ""  # version it replaces
    url: str = ""  # release directory URL
    rollout: str = ""
    allow_downgrade: bool = False
    target_slot: str = ""  # absolute path of the new virtualenv
    previous_slot: str = ""  # what ``current`` pointed at before the switch
    attempt: int = 0  # loop breaker: times this update was (re)started
    trial_window_s: float = 300.0
    trial_deadline: float = 0.0  # wall time; set by the launcher on entering trial
    trial_starts: int = 0  # starts of the new version during its trial
    outcome: str = ""
    reason: str = ""
    detail: str = ""
    bytes_done: int = 0
    bytes_total: int = 0
    started_at: float = 0.0
    since: float = 0.0

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> UpdateRecord:
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StateError(f"update state is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise StateError("update state is not a JSON object")
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name not in known:
                continue  # written by a newer launcher or agent: ignore, do not fail the boot
            default = known[name].default
            if not isinstance(value, type(default)) and not (
                isinstance(default, float) and isinstance(value, int)
            ):
                raise StateError(f"update state field {name} has the wrong type")
            values[name] = value
        record = cls(**values)
        if record.state not in STATES:
            raise StateError(f"unknown update state {record.state!r}")
        return record


def advance(record: UpdateRecord, state: str, now: float, **changes: Any) -> UpdateRecord:
    """The record after a transition (pure). Raises StateError for a transition the machine does
    not have. Entering a terminal state sets ``outcome``."""
    if state not in ALLOWED[record.state]:
        raise StateError(f"update cannot go from {record.state} to {state}")
    changes.setdefault("outcome", OUTCOMES.get(state, ""))
    return dataclasses.replace(record, state=state, since=now, **changes)


class StateStore:
    """The state file in the update directory. ``save`` returns only once the bytes and the
    rename are on disk (file fsync, rename, directory fsync)."""

    def __init__(self, directory: Path, clock: Any = time.time) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE
        self.clock = clock
        # An outcome the disk refused (full, read-only): newer than the file, so it is what
        # load() answers, and it is written at each load until the disk takes it.
        self.held: UpdateRecord | None = None

    def exists(self) -> bool:
        return self.held is not None or self.path.exists()

    def load(self) -> UpdateRecord:
        if self.held is not None:
            held = self.held
            with contextlib.suppress(OSError):
                self.save(held)
            return held
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return UpdateRecord()
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        return UpdateRecord.from_json(data)

    def save(self, record: UpdateRecord) -> UpdateRecord:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, record.to_json())
        self.held = None
        return record

    def save_or_hold(self, record: UpdateRecord) -> UpdateRecord:
        """For an outcome only: persist it, or, when the disk refuses, keep it in memory (the
        process reports it and writes it later) rather than lose it with an exception."""
        try:
            return self.save(record)
        except OSError:
            self.held = record
            return record

    def advance(self, state: str, **changes: Any) -> UpdateRecord:
        """Load, transition, persist: the one way a step is announced."""
        return self.save(advance(self.load(), state, self.clock(), **changes))

    def update(self, **changes: Any) -> UpdateRecord:
        """Persist a change inside the current state (progress, trial starts)."""
        return self.save(dataclasses.replace(self.load(), **changes))


# The launcher imports this module and must run with the standard library alone (it outlives
# agent versions), so these two keep their own copy of common.files' atomic write.
def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:  # a full disk: the old file stays, and no half-written leftover
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)
