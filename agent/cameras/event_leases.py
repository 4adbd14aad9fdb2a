"""The event subscriptions this agent holds on its cameras, written down so that a run killed
without its Unsubscribe (``kill -9``, a power cut) does not leave them taking camera slots.

Every orderly stop unsubscribes; a hard kill skips that, and the camera keeps the subscription
until its termination time (ten minutes with our ``PT600S``). Cameras have a handful of slots,
so an agent in a crash loop would fill them. Each events worker therefore records its live
subscription here right after subscribing or renewing and forgets it after unsubscribing; the
next start releases whatever an earlier run left (see
:meth:`agent.cameras.camera_events.CameraEvents.run`).

One small JSON file for all cameras, in the agent's state directory, written whole (temporary
file, fsync, ``os.replace``) and owner-only. It holds what Unsubscribe needs and nothing more:
the subscription manager address (user info, which requests never use, dropped), the camera's
reference parameters as XML (Axis identifies the subscription by one and wants it echoed) and
the termination time on the agent's wall clock. Never credentials.

A file that cannot be read or makes no sense is logged as a warning and treated as empty: the
worker subscribes as usual and the next save replaces it. A file that cannot be written is
logged too; the worker goes on (the subscription still ends at its termination time).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from lxml import etree
from pydantic import Field, ValidationError

from common.files import write_private
from strictmodel import StrictModel

log = logging.getLogger(__name__)

FILE_NAME = "camera-subscriptions.json"
FORMAT: Literal[1] = 1
MAX_REFERENCE = 16  # reference parameters kept per subscription (cameras send one or two)

Kind = Literal["pullpoint", "push"]


class _Entry(StrictModel):
    kind: Kind
    address: str = Field(min_length=1, max_length=2048)
    reference: list[str] = Field(default_factory=list, max_length=MAX_REFERENCE)
    terminates_at: float = Field(ge=0, description="Unix time the camera ends it on its own.")


class _File(StrictModel):
    format: Literal[1]
    subscriptions: dict[str, _Entry] = Field(default_factory=dict)


@dataclass(frozen=True)
class SavedSubscription:
    """One camera's live subscription as a later run needs it to Unsubscribe."""

    camera_id: str
    kind: Kind
    address: str
    reference: tuple[str, ...]  # each reference parameter element as XML text
    terminates_at: float  # wall clock (Unix time)

    def elements(self) -> list[etree._Element]:
        """The reference parameters as elements, to be echoed as headers."""
        return [_element(text) for text in self.reference]


def _element(text: str) -> etree._Element:
    """One reference parameter read back: no entities, no network (a parser of its own: lxml
    parsers are not to be shared between threads)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(text.encode(), parser=parser)


def reference_texts(elements: list[etree._Element]) -> tuple[str, ...]:
    return tuple(etree.tostring(e, encoding="unicode") for e in elements[:MAX_REFERENCE])


def without_userinfo(address: str) -> str:
    """``address`` minus any ``user:password@`` (requests go by host and port alone)."""
    parts = urlsplit(address)
    if "@" not in parts.netloc:
        return address
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class SubscriptionStore:
    """The file, shared by every events worker of the process (one lock around each change)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()

    def get(self, camera_id: str) -> SavedSubscription | None:
        with self._lock:
            entry = self._load().get(camera_id)
        if entry is None:
            return None
        return SavedSubscription(camera_id, entry.kind, entry.address, tuple(entry.reference),
                                 entry.terminates_at)  # fmt: skip

    def save(self, saved: SavedSubscription) -> bool:
        """Record (or replace) the camera's entry; False, logged, when it cannot be written."""
        entry = _Entry(
            kind=saved.kind,
            address=without_userinfo(saved.address),
            reference=list(saved.reference),
            terminates_at=saved.terminates_at,
        )
        with self._lock:
            entries = self._load()
            entries[saved.camera_id] = entry
            return self._write(entries)

    def remove(self, camera_id: str, address: str | None = None) -> bool:
        """Forget the camera's entry (only if it is for ``address``, when given)."""
        with self._lock:
            entries = self._load()
            entry = entries.get(camera_id)
            if entry is None:
                return True
            if address is not None and entry.address != without_userinfo(address):
                return True  # a newer subscription of the camera: not ours to forget
            del entries[camera_id]
            return self._write(entries)

    # -- the file (caller holds the lock) ----------------------------------------------------

    def _load(self) -> dict[str, _Entry]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("%s cannot be read (%s); ignored, replaced at the next save", self.path,
                        exc.strerror or type(exc).__name__)  # fmt: skip
            return {}
        try:
            data = _File.model_validate(json.loads(raw))
            for entry in data.subscriptions.values():
                for text in entry.reference:
                    _element(text)
        except (ValueError, ValidationError, etree.XMLSyntaxError) as exc:
            log.warning("%s is not a valid subscription record (%s); ignored, replaced at the "
                        "next save", self.path, _reason(exc))  # fmt: skip
            return {}
        return dict(data.subscriptions)

    def _write(self, entries: dict[str, _Entry]) -> bool:
        data = _File(format=FORMAT, subscriptions=entries).model_dump(mode="json")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(self.path, json.dumps(data, separators=(",", ":")).encode())
        except OSError as exc:
            log.warning("%s cannot be written (%s); a crash now leaves the camera's "
                        "subscription to expire on its own", self.path,
                        exc.strerror or type(exc).__name__)  # fmt: skip
            return False
        return True


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        return f"{where}: {first['msg']}"
    return f"{type(exc).__name__}: {exc}"[:200]
