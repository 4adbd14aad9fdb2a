"""Version slots and the two symlinks that choose between them (standard library only).

Layout of the update directory (``/var/lib/kendali/update`` on a gateway)::

    update-state.json        the persisted state (agent.update.state)
    current -> slots/1.4.0   the virtualenv the launcher starts
    previous -> /opt/kendali/.venv   what ``current`` pointed at before the last switch
    slots/<version>/         one virtualenv per installed version
    downloads/<version>/     the release as downloaded (manifest, signature, wheels)
    wheel-cache/             verified wheels by name, shared between versions

A switch replaces ``current`` with one ``rename`` of a fresh symlink, so at every instant it
points either at the old slot or at the new one, never at nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from agent.update.state import fsync_dir

CURRENT = "current"
PREVIOUS = "previous"
AGENT_BIN = Path("bin") / "kendali"


class Slots:
    def __init__(self, directory: Path, base: Path) -> None:
        """``base`` is the virtualenv the package installed (``/opt/kendali/.venv``): what runs
        before the first update, and the last resort when a slot has gone missing."""
        self.directory = directory
        self.base = base

    @property
    def slots(self) -> Path:
        return self.directory / "slots"

    def slot(self, version: str) -> Path:
        return self.slots / version

    def downloads(self, version: str) -> Path:
        return self.directory / "downloads" / version

    @property
    def wheel_cache(self) -> Path:
        return self.directory / "wheel-cache"

    def target(self, name: str = CURRENT) -> Path | None:
        """Where the ``current`` (or ``previous``) link points, or None without one."""
        link = self.directory / name
        try:
            value = os.readlink(link)
        except OSError:
            return None
        path = Path(value)
        return path if path.is_absolute() else self.directory / path

    def current(self) -> Path:
        """The slot to start: ``current``, or the base install before the first switch."""
        return self.target(CURRENT) or self.base

    def ensure_current(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.target(CURRENT) is None:
            self._link(CURRENT, self.base)
        return self.current()

    def switch(self, slot: Path, previous: Path) -> None:
        """``current`` -> ``slot`` and ``previous`` -> ``previous`` (idempotent: a second call
        after a crash half-way finishes the job)."""
        self._link(PREVIOUS, previous)
        self._link(CURRENT, slot)

    def points_at(self, slot: Path) -> bool:
        current = self.target(CURRENT)
        return current is not None and os.path.realpath(current) == os.path.realpath(slot)

    def _link(self, name: str, to: Path) -> None:
        tmp = self.directory / f".{name}.tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(to, tmp)
        os.replace(tmp, self.directory / name)
        fsync_dir(self.directory)


def agent_binary(slot: Path) -> Path:
    return slot / AGENT_BIN


def startable(slot: Path) -> bool:
    """The slot has an agent entry point that can be executed."""
    binary = agent_binary(slot)
    return binary.is_file() and os.access(binary, os.X_OK)
