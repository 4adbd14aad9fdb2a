"""``python -m agent.update.launcher``: what systemd starts instead of the agent itself.

It imports the standard library and :mod:`agent.update.state`/``slots`` only, and runs from the
base install's interpreter, so it works when the version in ``current`` cannot even be imported.
At every start it reads the persisted update state and:

- ``switching`` / ``restarting``: finishes the switch (idempotent) and enters ``trial`` with a
  deadline of ``trial_window_s`` from now;
- ``trial``: starts the new version as its child and watches it. The agent commits itself once it
  is connected and healthy (state ``committed``); if the deadline passes, or the new version has
  been started ``--max-starts`` times without committing (it crashes on start), or the agent asks
  for it (state ``rolling_back``), the launcher stops the child and rolls back;
- ``rolling_back``: points ``current`` at ``previous`` again (or the base install when that slot
  is gone), records ``rolled_back`` and starts that version;
- anything else: ``exec`` of ``current/bin/kendali`` with the given arguments (same PID, so
  systemd's notify and watchdog see the agent itself).

A state write the disk refuses (full, read-only, I/O errors) during a switch, trial or rollback
does not stop the launcher: it starts the previous version without trying the new one, and the
next start that can write records the rollback (reason ``state_unwritable`` when even the
decision could not be written). A read-only or failing disk also refuses to move ``current``
back: the previous version is then started directly and records the rollback itself once the
disk takes writes (the launcher then moves ``current``); a launcher start before that runs the
new version's trial afresh. The log line names the fault and what to do about it.

Exit codes: the agent's own, or 1 when nothing can be started at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from agent.update import state as st
from agent.update.slots import Slots, agent_binary, startable

ENV_UPDATE_DIR = "KENDALI_UPDATE_DIR"
ENV_BASE = "KENDALI_BASE_SLOT"
ENV_TRUST = "KENDALI_RELEASE_TRUST"
ENV_RATE = "KENDALI_UPDATE_RATE"
ENV_TRIAL_WINDOW = "KENDALI_TRIAL_WINDOW_S"
ENV_TRIAL_SETTLE = "KENDALI_TRIAL_SETTLE_S"
MAX_STARTS = 3
POLL_S = 0.5
STOP_GRACE_S = 12.0  # the agent stops in under 10 s (TimeoutStopSec=12 in the unit)


def exit_status(code: int) -> int:
    """A child's return code as a process exit status (killed by signal N: 128 + N)."""
    return 128 - code if code < 0 else code


def remedy(exc: OSError) -> str:
    """What the person reading the journal does about a refused write."""
    if exc.errno == errno.ENOSPC:
        return "free space there"
    if exc.errno == errno.EROFS:
        return "repair the disk (dmesg; e2fsck or a reboot makes it writable again)"
    return "check the disk (dmesg for I/O errors; replace a failing card)"


def log(message: str) -> None:
    """One line on stderr (the journal); logging is not configured this early."""
    print(f"kendali-launcher: {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Launcher:
    slots: Slots
    store: st.StateStore
    agent_args: list[str]
    max_starts: int = MAX_STARTS
    poll_s: float = POLL_S
    stop_grace_s: float = STOP_GRACE_S
    clock: object = time.time
    monotonic: object = time.monotonic
    settings: dict[str, str] = dataclasses.field(default_factory=dict)
    _child: subprocess.Popen[bytes] | None = None
    _stopping: bool = False

    def now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def mono(self) -> float:
        return float(self.monotonic())  # type: ignore[operator]

    def main(self) -> int:
        """Act on the persisted state until it says to run ``current`` (then ``exec``), or a
        trial's agent has ended after committing (then its exit status)."""
        try:
            self.slots.ensure_current()
        except OSError as exc:  # no ``current`` link and no room for one: the base install runs
            log(f"cannot create {self.slots.directory / 'current'}: {exc.strerror or exc}")
        while True:
            try:
                record = self.store.load()
            except st.StateError as exc:
                # A damaged state file must not keep the gateway down: run what ``current`` says.
                log(f"update state unreadable ({exc}); starting the current version")
                return self.exec_current()
            if record.state not in (st.SWITCHING, *st.POST_SWITCH):
                return self.exec_slots(self.finish_rollback_link(record), self.slots.base)
            try:
                code = self.step(record)
            except OSError as exc:
                return self.start_previous(record, exc)
            if code is not None:
                return code

    def step(self, record: st.UpdateRecord) -> int | None:
        """One step of a switch, trial or rollback; an exit status once a committed trial's
        agent has ended. Raises OSError when the disk refuses a state write or a link."""
        if record.state in (st.RESTARTING, st.TRIAL) and self.unrecorded_rollback(record):
            self.begin_rollback(
                st.UNRECORDED_ROLLBACK,
                f"an earlier start could not write the update state, so it did not try "
                f"{record.target} and started {record.previous or 'the previous version'}",
            )
        elif record.state in (st.SWITCHING, st.RESTARTING):
            self.enter_trial(record)
        elif record.state == st.TRIAL:
            code = self.supervise_trial()
            if code is not None:
                return exit_status(code)
        else:
            self.roll_back(record.reason or "rolled_back", record.detail)
        return None

    def unrecorded_rollback(self, record: st.UpdateRecord) -> bool:
        """After the switch ``current`` points at the new slot until a rollback moves it back:
        pointing elsewhere, it was moved by :meth:`start_previous` without a record."""
        return bool(record.target_slot) and not self.slots.points_at(Path(record.target_slot))

    def start_previous(self, record: st.UpdateRecord, exc: OSError) -> int:
        """The disk refused a state write (full, read-only, failing). Without it a trial has no
        crash count or deadline that survives a restart, and a rollback no record: so the new
        version is not tried, ``current`` goes back to the previous version (when the disk
        takes the link) and that version is started. The next start that can write records
        the rollback (:meth:`unrecorded_rollback`). Raising instead would stop the service
        with nothing running, again at every restart.

        A read-only or failing disk refuses the link too: then nothing on it remembers this
        start, the previous version is started directly, and it records the rollback itself
        once the disk takes writes (the updater's ``recover``; :meth:`finish_rollback_link`
        then moves ``current``). A launcher start before that finds the new version's
        ``current`` and state as they were and runs its trial afresh."""
        previous = self.previous_or_base(record)
        name = record.previous or str(previous)
        refused = ""
        if record.target_slot:
            try:
                self.slots.switch(previous, Path(record.target_slot))
            except OSError as again:
                refused = again.strerror or str(again)
        said = (
            f"cannot write the update state in {self.slots.directory} ({exc.strerror or exc}) "
            f"in state {record.state}: starting {name} instead of trying {record.target}; "
            f"{remedy(exc)}"
        )
        if refused:
            log(
                f"{said}. current still points at {record.target} (the link was refused too: "
                f"{refused}): {name} records the rollback once the disk takes writes; a start "
                f"before that runs the trial of {record.target} again"
            )
        else:
            log(f"{said}, the next start records the rollback")
        return self.exec_slots(previous, self.slots.base)

    def enter_trial(self, record: st.UpdateRecord) -> st.UpdateRecord:
        slot = Path(record.target_slot)
        if record.state == st.SWITCHING:  # the updater died during the flip: finish it
            self.slots.switch(slot, Path(record.previous_slot))
            record = self.store.advance(st.RESTARTING)
        log(f"trying {record.target} (trial of {record.trial_window_s:g} s)")
        return self.store.advance(
            st.TRIAL, trial_deadline=self.now() + record.trial_window_s, trial_starts=0
        )

    def supervise_trial(self) -> int | None:
        """Run the new version until it commits (then its exit code) or must be rolled back
        (then None, with the state at ``rolling_back``).

        The persisted deadline is wall time (it must survive a reboot); within this process it
        becomes a monotonic one, at most a trial window away: a clock set backwards cannot
        stretch the trial, and one set forwards while it runs (NTP after a boot without a
        real-time clock) does not cut it short."""
        first = self.store.load()
        remaining = min(first.trial_deadline - self.now(), first.trial_window_s)
        deadline = self.mono() + remaining
        while True:
            record = self.store.load()
            if record.state != st.TRIAL:
                return None
            if self.mono() >= deadline:
                self.begin_rollback(
                    "trial_deadline",
                    f"{record.target} did not connect and pass its health checks within "
                    f"{record.trial_window_s:g} s",
                )
                return None
            if record.trial_starts >= self.max_starts:
                self.begin_rollback(
                    "crash_loop",
                    f"{record.target} stopped {record.trial_starts} times before it committed",
                )
                return None
            self.store.update(trial_starts=record.trial_starts + 1)
            code = self.run_child(record, deadline)
            if code is not None:
                return code

    def run_child(self, record: st.UpdateRecord, deadline: float) -> int | None:
        """One start of the new version: its exit code once it has committed, None when it
        ended (or must end) without committing."""
        binary = agent_binary(self.slots.current())
        try:
            self._child = subprocess.Popen([str(binary), *self.agent_args], env=self.child_env())
        except OSError as exc:
            log(f"cannot start {binary}: {exc.strerror or exc}")
            return None
        child = self._child
        try:
            while True:
                try:
                    code = child.wait(timeout=self.poll_s)
                except subprocess.TimeoutExpired:
                    code = None
                current = self.store.load()
                if current.state not in (st.TRIAL, st.ROLLING_BACK):
                    # committed (and maybe already on to its next update): it lives on
                    return code if code is not None else self.wait_committed(child)
                if self._stopping:
                    return self.stop_child(child)
                if code is not None:
                    log(f"{record.target} exited with {code} during its trial")
                    return None
                if current.state != st.TRIAL or self.mono() >= deadline:
                    self.stop_child(child)
                    return None
        finally:
            self._child = None

    def wait_committed(self, child: subprocess.Popen[bytes]) -> int:
        """The new version committed: stay its parent (signals are passed on) until it ends."""
        log("the new version committed itself")
        while True:
            try:
                return child.wait(timeout=self.poll_s)
            except subprocess.TimeoutExpired:
                if self._stopping:
                    return self.stop_child(child)

    def stop_child(self, child: subprocess.Popen[bytes]) -> int:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=self.stop_grace_s)
            except subprocess.TimeoutExpired:
                child.kill()
        return child.wait()

    def on_signal(self, signum: int, _frame: object) -> None:
        self._stopping = True
        if self._child is not None and self._child.poll() is None:
            self._child.send_signal(signum)
        else:
            raise SystemExit(128 + signum)

    def begin_rollback(self, reason: str, detail: str) -> None:
        log(f"rolling back: {reason}: {detail}")
        self.store.advance(st.ROLLING_BACK, reason=reason, detail=detail)

    def roll_back(self, reason: str, detail: str) -> None:
        """``current`` back to ``previous`` (persisted ``rolling_back`` first, so a kill here is
        finished by the next start)."""
        record = self.store.load()
        previous = Path(record.previous_slot) if record.previous_slot else self.slots.base
        if not startable(previous):
            detail = f"{detail}; the previous slot {previous} cannot start: base install used"
            previous = self.slots.base
        self.slots.switch(previous, Path(record.target_slot or previous))
        self.store.advance(st.ROLLED_BACK, reason=reason, detail=detail)
        log(f"rolled back to {record.previous or previous}")

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings)
        env[ENV_UPDATE_DIR] = str(self.slots.directory)
        env[ENV_BASE] = str(self.slots.base)
        return env

    def previous_or_base(self, record: st.UpdateRecord) -> Path:
        """The slot to go back to: the record's previous one, or the base install when there is
        none or it cannot start."""
        previous = Path(record.previous_slot) if record.previous_slot else self.slots.base
        return previous if startable(previous) else self.slots.base

    def finish_rollback_link(self, record: st.UpdateRecord) -> Path:
        """The slot to start for a settled state: ``current``, except after a rollback that
        the disk recorded but whose link it refused (the previous version wrote it once the disk
        was writable again, :meth:`start_previous`). Then ``current`` still points at the
        version that was rolled back, and is moved back first; the previous slot is started
        directly when even that is refused."""
        if not (
            record.state == st.ROLLED_BACK
            and record.target_slot
            and self.slots.points_at(Path(record.target_slot))
        ):
            return self.slots.current()
        previous = self.previous_or_base(record)
        try:
            self.slots.switch(previous, Path(record.target_slot))
        except OSError as exc:
            log(f"cannot point current back at {previous} ({exc.strerror or exc}); starting it")
            return previous
        log(f"{record.target} was rolled back: current points at {previous} again")
        return self.slots.current()

    def exec_current(self) -> int:
        return self.exec_slots(self.slots.current(), self.slots.base)

    def exec_slots(self, *slots: Path) -> int:
        """``exec`` the agent of the first slot that starts; 1 when none does."""
        for slot in slots:
            binary = agent_binary(slot)
            if not startable(slot):
                log(f"{binary} cannot be started")
                continue
            argv = [str(binary), *self.agent_args]
            try:
                os.execve(binary, argv, self.child_env())  # noqa: S606 - our own agent
            except OSError as exc:
                log(f"exec {binary} failed: {exc.strerror or exc}")
        return 1


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kendali-launcher",
        description="Start the Kendali agent from its current version slot; finish a switch, "
        "watch a new version's trial and roll back when it does not commit in time.",
        epilog="Everything after -- is passed to the agent, e.g. -- agent --config "
        "/etc/kendali/agent.yaml",
    )
    add = parser.add_argument
    add(
        "--update-dir",
        type=Path,
        required=True,
        help="The update directory (state file, slots, current/previous links).",
    )
    add(
        "--base",
        type=Path,
        required=True,
        help="The virtualenv the package installed; runs before any update and when every "
        "slot is unusable.",
    )
    add(
        "--max-starts",
        type=int,
        default=MAX_STARTS,
        help="Starts of a new version without a commit before it is rolled back.",
    )
    add("--poll", type=float, default=POLL_S, help="Seconds between checks of the state file.")
    add(
        "--trust",
        type=Path,
        default=None,
        help="The pinned release keys (trust.json or a public key PEM) the agent verifies "
        "releases with; default /etc/kendali/release-trust.json.",
    )
    add(
        "--rate",
        type=float,
        default=None,
        help="Download bandwidth cap for updates, bytes per second (default: none).",
    )
    add(
        "--trial-window",
        type=float,
        default=None,
        help="Seconds a new version has to connect and pass its health checks (default 300).",
    )
    add(
        "--trial-settle",
        type=float,
        default=None,
        help="Seconds a new version must stay connected and healthy before it commits (default 5).",
    )
    parser.add_argument("agent_args", nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    if opts.agent_args[:1] == ["--"]:
        opts.agent_args = opts.agent_args[1:]
    return opts


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse(sys.argv[1:] if argv is None else argv)
    launcher = Launcher(
        Slots(opts.update_dir, opts.base),
        st.StateStore(opts.update_dir),
        list(opts.agent_args),
        max_starts=opts.max_starts,
        poll_s=opts.poll,
        settings={
            name: str(value)
            for name, value in (
                (ENV_TRUST, opts.trust),
                (ENV_RATE, opts.rate),
                (ENV_TRIAL_WINDOW, opts.trial_window),
                (ENV_TRIAL_SETTLE, opts.trial_settle),
            )
            if value is not None
        },
    )
    signal.signal(signal.SIGTERM, launcher.on_signal)
    signal.signal(signal.SIGINT, launcher.on_signal)
    return launcher.main()


if __name__ == "__main__":
    sys.exit(main())
