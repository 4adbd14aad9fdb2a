"""The live alert feed: one poller per API process reads new ``alert_journal`` rows and fans
them out to every connected client whose agencies may see them.

Reading the journal table (not an in-process callback) makes the feed work however many API
processes run and whichever process wrote the row. Each client has a bounded queue: a client
that falls ``queue_max`` rows behind is disconnected rather than allowed to grow our memory; its
browser reconnects with ``Last-Event-ID`` and :func:`replay` fills the gap from the table.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from controller.access.directory import Viewer

log = logging.getLogger(__name__)

REPLAY_PAGE = 500
_CLOSE: dict[str, Any] = {"id": -1, "close": True}


@dataclass(eq=False)
class Subscriber:
    viewer: Viewer
    queue: asyncio.Queue[dict[str, Any]]
    start_id: int
    dropped: bool = False

    def offer(self, row: dict[str, Any]) -> None:
        """Queue a row (visible rows only); a full queue ends this client's stream."""
        if self.dropped:
            return
        try:
            self.queue.put_nowait(row)
        except asyncio.QueueFull:
            self.dropped = True
            self.close()

    def close(self) -> None:
        while True:
            try:
                self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
        self.queue.put_nowait(_CLOSE)


def visible(viewer: Viewer, row: dict[str, Any]) -> bool:
    return viewer.sees(row.get("agencies") or ())


def event_data(row: dict[str, Any]) -> str:
    return json.dumps(
        {
            "journal_id": row["id"],
            "action": row["action"],
            "who": row["who"],
            "at": row["at"],
            "alert": row["alert"],
        },
        separators=(",", ":"),
        default=str,
    )


class JournalHub:
    """Fan-out of journal rows. ``fetch`` and ``last_id`` run in a worker thread (they read
    the database); everything else runs on the server's event loop."""

    def __init__(
        self,
        fetch: Callable[[int, int], list[dict[str, Any]]],
        last_id: Callable[[], int],
        *,
        queue_max: int = 1000,
    ) -> None:
        self.fetch = fetch
        self._last_id = last_id
        self.queue_max = queue_max
        self.cursor = 0
        self.subscribers: set[Subscriber] = set()
        self.closed = False

    def subscribe(self, viewer: Viewer) -> Subscriber:
        sub = Subscriber(viewer, asyncio.Queue(self.queue_max + 1), self.cursor)
        if self.closed:
            sub.close()
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def read(self) -> list[dict[str, Any]]:
        """New rows since the cursor (worker thread). With nobody listening only the newest
        id is read, so an idle API costs one indexed query per tick."""
        if not self.subscribers:
            return [{"id": self._last_id(), "skip": True}]
        return self.fetch(self.cursor, REPLAY_PAGE)

    def publish(self, rows: list[dict[str, Any]]) -> None:
        """Advance the cursor and hand each row to the subscribers that may see it (loop)."""
        for row in rows:
            self.cursor = max(self.cursor, int(row["id"]))
            if row.get("skip"):
                continue
            for sub in list(self.subscribers):
                if visible(sub.viewer, row):
                    sub.offer(row)

    def close(self) -> None:
        """Server shutdown: every stream ends now instead of holding the process."""
        self.closed = True
        for sub in list(self.subscribers):
            sub.close()


async def replay(
    fetch: Callable[[int, int], list[dict[str, Any]]],
    viewer: Viewer,
    after: int,
    run: Callable[..., Any],
) -> AsyncIterator[dict[str, Any]]:
    """The visible rows after ``after`` from the table, page by page (``run`` moves each read
    to a worker thread)."""
    while True:
        rows: list[dict[str, Any]] = await run(fetch, after, REPLAY_PAGE)
        for row in rows:
            after = int(row["id"])
            if visible(viewer, row):
                yield row
        if len(rows) < REPLAY_PAGE:
            return


async def follow(
    hub: JournalHub,
    sub: Subscriber,
    after: int | None,
    run: Callable[..., Any],
) -> AsyncIterator[dict[str, Any]]:
    """One client's rows: the missed ones from the table when it names the last id it saw,
    then the live ones, each id at most once and in order."""
    last = sub.start_id if after is None else after
    if after is not None and after < sub.start_id:
        async for row in replay(hub.fetch, sub.viewer, after, run):
            last = int(row["id"])
            yield row
    while True:
        row = await sub.queue.get()
        if row.get("close"):
            return
        if int(row["id"]) <= last:
            continue
        last = int(row["id"])
        yield row
