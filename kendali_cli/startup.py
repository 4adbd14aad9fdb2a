"""What the agent and the controller check before they start, in order, as flat lists.

Each step is a :mod:`common.preflight` check on one setting, so an error names the setting the
operator wrote. The instance lock comes last: it is the only step that creates a file, and it
is taken only once everything else is known to be right.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from common.configfile import secrets_in
from common.preflight import (
    InstanceLock,
    check_database_url,
    check_private,
    check_readable,
    check_state_file,
    hold_instance_lock,
    owner_only_files,
    sqlite_path,
)

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from controller.config import ControllerConfig


class TlsFiles(Protocol):
    """The TLS section of either config file, as far as the file checks go."""

    @property
    def ca_file(self) -> Path: ...
    @property
    def cert_file(self) -> Path | None: ...
    @property
    def key_file(self) -> Path | None: ...


def check_config_file(path: Path | None, holds_secrets: bool) -> None:
    """A configuration file with passwords in it is as private as a key."""
    if path is not None and holds_secrets:
        check_private(path, "configuration file")


def check_tls(tls: TlsFiles | None, what: str) -> None:
    """Every TLS file exists and is readable now, rather than a traceback in the link thread
    later; the private key is also refused when others can read it."""
    if tls is None:
        return
    check_readable(tls.ca_file, f"{what}.ca_file")
    if tls.cert_file is not None:
        check_readable(tls.cert_file, f"{what}.cert_file")
    if tls.key_file is not None:
        check_private(tls.key_file, f"{what}.key_file")


def agent_preflight(cfg: AgentConfig, config_path: Path) -> tuple[InstanceLock, str | None]:
    """Umask, config file, TLS files, outbox path, then the lock on the outbox. Returns the
    lock and a warning to log: an outbox on a read-only disk is not refused (the agent runs
    from memory and says why; a gateway that shows offline tells nobody about its disk)."""
    owner_only_files()
    check_config_file(config_path, bool(secrets_in(cfg)))
    check_tls(cfg.broker.tls, "broker.tls")
    warning = check_state_file(cfg.outbox.path, "outbox.path", read_only_ok=True)
    return hold_instance_lock(cfg.outbox.path, "outbox.path"), warning


def controller_preflight(cfg: ControllerConfig, config_path: Path | None) -> InstanceLock | None:
    """Umask, config file, TLS files, database URL and SQLite path, then the lock on the SQLite
    file (PostgreSQL has no local state file: nothing to lock)."""
    owner_only_files()
    check_config_file(config_path, bool(secrets_in(cfg)))
    check_tls(cfg.broker.tls, "broker.tls")
    check_database_url(cfg.database.url)
    path = sqlite_path(cfg.database.url)
    return hold_instance_lock(path, "database.url") if path is not None else None
