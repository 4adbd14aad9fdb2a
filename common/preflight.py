"""Checks a process makes before it starts anything, each failing with the problem and its fix.

A typo in a path setting used to cost data (an outbox path naming a directory had that
directory moved aside as "corrupt"), a missing TLS file ended the link with a traceback naming
no file, and two agents on one configuration shared an outbox. Here each such mistake becomes
one :class:`PreflightError` before any file is created or renamed, and the CLI prints it as one
``error: ...`` line with the command or setting that fixes it, then exits 2.

The checks are plain functions over paths and URLs; the agent's and controller's lists of what
to check live with their commands (``kendali_cli.startup``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common.files import nearest_existing

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

OWNER_ONLY = 0o077
SQLITE_DRIVERS = ("sqlite", "sqlite+pysqlite")
POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_MISSPELLINGS = ("postgres", "postgresql", "postgresql+psycopg2", "postgres+psycopg")
# Files SQLite and the outbox keep beside their database; a directory in their place breaks it.
STATE_SIDECARS = ("-wal", "-shm", "-journal", ".seq", ".lock")


class PreflightError(Exception):
    """One start-up problem and the one thing to try; ``str()`` is the line the CLI prints."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; fix: {fix}")
        self.problem, self.fix = problem, fix


def owner_only_files() -> None:
    """Every file and directory this process creates from now on (outbox, database, lock,
    journal) is readable by its owner only, whatever umask systemd or the shell handed us."""
    os.umask(OWNER_ONLY)


# -- files we read ---------------------------------------------------------------------------


def check_readable(path: Path, what: str) -> None:
    """``path`` (named by setting ``what``) is a regular file this process can read."""
    if not path.exists():
        raise PreflightError(f"{what} {path} does not exist", f"create it or correct {what}")
    if not path.is_file():
        raise PreflightError(f"{what} {path} is not a regular file", f"point {what} at a file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise PreflightError(
            f"{what} {path} cannot be read ({exc.strerror})",
            f"chown {_user()} {path} (or run as its owner)",
        ) from exc


def check_private(path: Path, what: str) -> None:
    """A file holding secrets (a key, a config with passwords) must not be open to group or
    others: refused, with the ``chmod`` that fixes it."""
    check_readable(path, what)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & OWNER_ONLY:
        raise PreflightError(
            f"{what} {path} holds secrets but is open to group/others (mode {mode:04o})",
            f"chmod 600 {path}",
        )


# -- files we write --------------------------------------------------------------------------


def check_state_file(path: Path, what: str, *, read_only_ok: bool = False) -> str | None:
    """``path`` may be created or opened as a database file: it is not a directory or device,
    nothing beside it that SQLite needs is a directory, the nearest existing parent is a
    directory and this process may write there. Nothing is created.

    A file system mounted read-only is refused (with the fix), unless ``read_only_ok``: the
    agent can run from memory on a disk ext4 turned read-only, so for it that one problem is
    returned as a warning line instead (every other problem is still refused: a wrong owner or
    mode stays wrong once the disk is repaired). Returns None when there is nothing to say."""
    for candidate in (path, *(path.with_name(path.name + s) for s in STATE_SIDECARS)):
        if candidate.exists() and not candidate.is_file():
            kind = "a directory" if candidate.is_dir() else "not a regular file"
            fix = (
                f"set {what} to a file inside it, e.g. {candidate / path.name}"
                if candidate == path and candidate.is_dir()
                else f"move {candidate} out of the way"
            )
            raise PreflightError(f"{what}: {candidate} is {kind}", fix)
    read_only = on_read_only_fs(path)
    if read_only and not read_only_ok:
        raise PreflightError(f"{what} {path} is on a read-only file system", READ_ONLY_FIX)
    if path.exists() and not _may(path, os.R_OK | os.W_OK, read_only):
        raise PreflightError(
            f"{what} {path} is not readable and writable by {_user()}",
            f"chown {_user()} {path} && chmod 600 {path}",
        )
    _check_parent(path, what, read_only)
    if not read_only:
        return None
    return (
        f"{what} {path} is on a read-only file system: running without a disk, messages are "
        "kept in memory only and are lost if the agent restarts before the disk is fixed; "
        f"{READ_ONLY_FIX}"
    )


READ_ONLY_FIX = (
    "check the disk (dmesg for I/O errors, e2fsck), then remount it read-write "
    "(mount -o remount,rw) or reboot"
)


def on_read_only_fs(path: Path) -> bool:
    """Whether the file system that holds ``path`` (or would hold it: its nearest existing
    parent) is mounted read-only (after a file-system error, ext4 remounts itself so)."""
    try:
        return bool(os.statvfs(nearest_existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _may(path: Path, mode: int, read_only: bool) -> bool:
    """``os.access`` for ``mode``; on a read-only file system, where the kernel refuses every
    write with EROFS before it looks at permissions, the write part is read from the mode bits
    (as it will be once the disk is writable again)."""
    if not read_only or not mode & os.W_OK:
        return os.access(path, mode)
    if not os.access(path, mode & ~os.W_OK):
        return False
    if _ignores_modes():
        return True
    st = path.stat()
    if st.st_uid == os.geteuid():
        return bool(st.st_mode & stat.S_IWUSR)
    if st.st_gid in (os.getegid(), *os.getgroups()):
        return bool(st.st_mode & stat.S_IWGRP)
    return bool(st.st_mode & stat.S_IWOTH)


def _check_parent(path: Path, what: str, read_only: bool = False) -> None:
    ancestor = nearest_existing(path.parent)
    if not ancestor.is_dir():
        raise PreflightError(
            f"{what} {path}: {ancestor} is a file, not a directory",
            f"set {what} to a path under an existing directory",
        )
    if not _may(ancestor, os.W_OK | os.X_OK, read_only):
        raise PreflightError(
            f"{what} {path}: directory {ancestor} is not writable by {_user()}",
            f"chown {_user()} {ancestor} (or set {what} to a writable directory)",
        )


# -- database URLs ---------------------------------------------------------------------------


def database_url_problem(url: str) -> str | None:
    """Why the controller cannot use ``url``, with the right spelling; None when it can.
    Pure: no driver is imported and nothing connects."""
    parsed = _parse(url)
    if parsed is None:
        return f"not a database URL; use sqlite:///path/to/db or {POSTGRES_DRIVER}://user@host/db"
    driver = parsed.drivername
    if driver in SQLITE_DRIVERS or driver == POSTGRES_DRIVER:
        return None
    if driver in _POSTGRES_MISSPELLINGS:
        right = parsed.set(drivername=POSTGRES_DRIVER).render_as_string(hide_password=True)
        return f"driver {driver!r} is not installed; spell it {POSTGRES_DRIVER}:// ({right})"
    return (
        f"unknown database driver {driver!r}; use sqlite:///path or "
        f"{POSTGRES_DRIVER}://user@host/db"
    )


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = _parse(url)
    if (
        parsed is None
        or parsed.drivername not in SQLITE_DRIVERS
        or parsed.database in (None, "", ":memory:")
    ):
        return None
    return Path(parsed.database)


def _parse(url: str) -> URL | None:
    """SQLAlchemy's own URL parser (imported here: the CLI starts faster without it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


def check_database_url(url: str, what: str = "database.url") -> None:
    problem = database_url_problem(url)
    if problem is not None:
        raise PreflightError(f"{what}: {problem}", f"correct {what}")
    path = sqlite_path(url)
    if path is not None:
        check_state_file(path, what)


# -- one instance per state file -------------------------------------------------------------


@dataclass
class InstanceLock:
    """Held for the life of the process: an exclusive ``flock`` on ``<state>.lock`` (when that
    file exists or can be made) and a listening unix socket in the abstract namespace named
    after the state file (needs no disk). The kernel drops both when the process ends, however
    it ends, so there is no stale lock to clean up."""

    path: Path
    fd: int | None
    guard: socket.socket | None = None
    read_only: bool = False  # the lock file could not be written (a read-only disk)

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        if self.guard is not None:
            self.guard.close()


def guard_name(state_file: Path) -> bytes:
    """The abstract socket's name: the state file's real path, hashed (names are short)."""
    digest = hashlib.sha256(os.path.realpath(state_file).encode()).hexdigest()[:32]
    return b"\0kendali-instance-" + digest.encode()


def hold_instance_lock(state_file: Path, what: str) -> InstanceLock:
    """Lock ``<state_file>.lock`` beside the state file, creating its directory (owner-only) if
    needed, and bind the state file's abstract socket; a second process on the same state is
    refused, naming the pid that holds it.

    On a read-only disk the lock file is locked through a read-only descriptor (``flock`` needs
    no write access) and cannot carry our pid; when it does not exist and cannot be made, the
    socket alone keeps a second agent out. The socket is bound on every disk, so an agent that
    started on a read-only disk still keeps out one started after the disk was made writable.
    (Abstract sockets belong to a network namespace: the guard assumes one per gateway.)

    The lock is per state file, not per directory: the demo and a test bench run several
    gateways from one directory, each with its own outbox, and that is safe."""
    lock_path = state_file.with_name(state_file.name + ".lock")
    fd, read_only = _open_lock_file(lock_path)
    try:
        guard = _take(state_file, what, lock_path, fd)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    if fd is not None and not read_only:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:  # ext4 turned read-only after an error still opens files for writing
            read_only = True  # held all the same; the socket names us
    return InstanceLock(lock_path, fd, guard, read_only)


def _open_lock_file(lock_path: Path) -> tuple[int | None, bool]:
    """(descriptor, read-only?): read-write, created if needed; on a read-only file system the
    existing file read-only, or no file at all."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600), False
    except OSError as exc:
        if exc.errno != errno.EROFS:
            raise
    try:
        return os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC), True
    except FileNotFoundError:
        return None, True


def _take(state_file: Path, what: str, lock_path: Path, fd: int | None) -> socket.socket:
    """The file's flock (when there is a file), then the socket; refused when either is held."""
    if fd is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _held(state_file, what, lock_path, fd) from None
    guard = _bind_guard(state_file)
    if guard is None:
        raise _held(state_file, what, lock_path, fd)
    return guard


def _bind_guard(state_file: Path) -> socket.socket | None:
    """The state file's abstract socket, listening; None when another process has it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(guard_name(state_file))
        sock.listen(16)  # room for the pid queries of refused processes (never accepted)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            return None
        raise
    return sock


def _held(state_file: Path, what: str, lock_path: Path, fd: int | None) -> PreflightError:
    holder = _guard_holder(state_file)
    if holder is None and fd is not None:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or None
    holder = holder or "unknown"
    return PreflightError(
        f"another process (pid {holder}) already uses {what} {state_file} (it holds {lock_path})",
        f"stop pid {holder}, or give this instance its own {what}",
    )


def _guard_holder(state_file: Path) -> str | None:
    """The pid of the process listening on the state file's socket (the kernel's word, so
    right even when the lock file could not be written), if any."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(guard_name(state_file))
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        except OSError:
            return None
    pid = int.from_bytes(creds[:4], sys.byteorder)
    return str(pid) if pid > 0 else None


def _ignores_modes() -> bool:
    """Whether this process may write whatever the mode bits say (CAP_DAC_OVERRIDE, which
    root has unless it was dropped)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 1))  # CAP_DAC_OVERRIDE
    except (OSError, ValueError):
        pass
    return os.geteuid() == 0


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())
