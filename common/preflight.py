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
import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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


def check_state_file(path: Path, what: str) -> None:
    """``path`` may be created or opened as a database file: it is not a directory or device,
    nothing beside it that SQLite needs is a directory, the nearest existing parent is a
    directory and this process may write there. Nothing is created."""
    for candidate in (path, *(path.with_name(path.name + s) for s in STATE_SIDECARS)):
        if candidate.exists() and not candidate.is_file():
            kind = "a directory" if candidate.is_dir() else "not a regular file"
            fix = (
                f"set {what} to a file inside it, e.g. {candidate / path.name}"
                if candidate == path and candidate.is_dir()
                else f"move {candidate} out of the way"
            )
            raise PreflightError(f"{what}: {candidate} is {kind}", fix)
    _check_writable_fs(path, what)
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise PreflightError(
            f"{what} {path} is not readable and writable by {_user()}",
            f"chown {_user()} {path} && chmod 600 {path}",
        )
    _check_parent(path, what)


def _check_writable_fs(path: Path, what: str) -> None:
    """A disk mounted read-only (after a file-system error, ext4 remounts itself so) is not a
    permissions problem: say so, and not "chown"."""
    where = path
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        read_only = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
    except OSError:
        return
    if read_only:
        raise PreflightError(
            f"{what} {path} is on a read-only file system",
            "check the disk (dmesg for I/O errors, e2fsck), then remount it read-write "
            "(mount -o remount,rw) or reboot",
        )


def _check_parent(path: Path, what: str) -> None:
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PreflightError(
            f"{what} {path}: {ancestor} is a file, not a directory",
            f"set {what} to a path under an existing directory",
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
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
    """An exclusive ``flock`` held for the life of the process (the kernel drops it when the
    process ends, however it ends, so there is no stale lock to clean up)."""

    path: Path
    fd: int

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def hold_instance_lock(state_file: Path, what: str) -> InstanceLock:
    """Lock ``<state_file>.lock`` beside the state file, creating its directory (owner-only) if
    needed; a second process on the same state is refused, naming the pid that holds it.

    The lock is per state file, not per directory: the demo and a test bench run several
    gateways from one directory, each with its own outbox, and that is safe."""
    lock_path = state_file.with_name(state_file.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise PreflightError(
            f"another process (pid {holder}) already uses {what} {state_file} "
            f"(it holds {lock_path})",
            f"stop pid {holder}, or give this instance its own {what}",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return InstanceLock(lock_path, fd)


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())
