"""Pure parts of access and the API with injected clocks and fakes: password hashes, the
login limiter, the live stream's fan-out (bounded queues, replay, order) and the snapshot
requests' rate limit and JPEG check."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controller.access.directory import Viewer
from controller.access.passwords import hash_password, verify_password
from controller.access.ratelimit import FailureLimiter
from controller.api.snapshots import SnapshotRequests, TooSoon, decode_jpeg
from controller.api.stream import JournalHub, follow
from tests.api import seed


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_password_hash_carries_its_parameters_and_rejects_tampering() -> None:
    stored = hash_password("s3cret-password", n=2**10)
    scheme, n, r, p, _salt, _digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert verify_password("s3cret-password", stored)
    assert not verify_password("s3cret-passworD", stored)
    assert hash_password("s3cret-password", n=2**10) != stored  # salted
    for broken in (
        "",
        "scrypt$1$2",
        "md5$1$1$1$AA==$AA==",
        stored[:-4] + "AAAA",
        "scrypt$x$8$1$A$A",
    ):
        assert not verify_password("s3cret-password", broken)


def test_limiter_counts_per_key_within_the_window() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, 60.0, clock=clock)
    keys = ("ip:1.2.3.4", "user:sari")
    for _ in range(2):
        limiter.failed(keys)
    assert limiter.retry_after(keys) is None
    limiter.failed(keys)
    assert limiter.retry_after(keys) == pytest.approx(60.0)
    assert limiter.retry_after(["user:sari"]) == pytest.approx(60.0)
    assert limiter.retry_after(["ip:5.6.7.8", "user:budi"]) is None
    clock.now += 30
    assert limiter.retry_after(keys) == pytest.approx(30.0)
    limiter.forget("user:sari")
    assert limiter.retry_after(["user:sari"]) is None
    clock.now += 30.1
    assert limiter.retry_after(keys) is None


def test_limiter_memory_is_bounded() -> None:
    limiter = FailureLimiter(1, 60.0, max_keys=100, clock=Clock())
    for i in range(1000):
        limiter.failed([f"ip:{i}"])
    assert limiter.retry_after(["ip:999"]) is not None
    assert limiter.retry_after(["ip:0"]) is None  # forgotten first
    assert len(limiter._failures) == 100


def _row(i: int, agencies: list[str]) -> dict[str, Any]:
    return {
        "id": i,
        "alert_id": i,
        "at": 0.0,
        "action": "raised",
        "who": "c",
        "agencies": agencies,
        "alert": {"id": i},
    }


class Journal:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def fetch(self, after: int, limit: int) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["id"] > after][:limit]

    def last(self) -> int:
        return self.rows[-1]["id"] if self.rows else 0


async def _direct(fn: Any, *args: Any) -> Any:
    return fn(*args)


async def _take(it: AsyncIterator[dict[str, Any]], n: int) -> list[int]:
    out = []
    async for row in it:
        out.append(row["id"])
        if len(out) == n:
            break
    return out


def test_hub_fans_out_by_agency_and_replays_then_follows_in_order() -> None:
    async def scenario() -> None:
        journal = Journal()
        journal.rows = [_row(1, ["bpbd"]), _row(2, ["dishub"]), _row(3, ["bpbd"])]
        hub = JournalHub(journal.fetch, journal.last, queue_max=10)
        hub.cursor = 2  # the hub has fanned out up to 2 already
        bpbd = hub.subscribe(Viewer(frozenset({"bpbd"})))
        dishub = hub.subscribe(Viewer(frozenset({"dishub"})))
        journal.rows += [_row(4, ["dishub"]), _row(5, ["bpbd", "dishub"])]
        hub.publish(hub.read())  # 3, 4, 5 go live
        assert hub.cursor == 5
        # BPBD reconnects having seen id 0: 1 and 3 replayed from the table, then 5 live, once
        got = await _take(follow(hub, bpbd, 0, _direct), 3)
        assert got == [1, 3, 5]
        # Dishub without Last-Event-ID starts from now (2) and gets 4 and 5 only
        assert await _take(follow(hub, dishub, None, _direct), 2) == [4, 5]
        hub.close()
        assert await _take(follow(hub, dishub, None, _direct), 1) == []

    asyncio.run(scenario())


def test_a_slow_client_is_dropped_not_buffered() -> None:
    async def scenario() -> None:
        journal = Journal()
        hub = JournalHub(journal.fetch, journal.last, queue_max=3)
        slow = hub.subscribe(Viewer(frozenset(), all_agencies=True))
        journal.rows = [_row(i, ["x"]) for i in range(1, 11)]
        hub.publish(hub.read())
        assert slow.dropped and slow.queue.qsize() == 1  # only the close marker is left
        assert await _take(follow(hub, slow, None, _direct), 1) == []

    asyncio.run(scenario())


class FakeCommands:
    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}

    def create(self, gateway_id: str, name: str, args: dict[str, Any], timeout_s: float) -> str:
        cmd_id = f"{len(self.rows):032x}"
        self.rows[cmd_id] = type("Row", (), {"status": "sent", "result": None, "finished_at": None})
        return cmd_id

    def get(self, cmd_id: str) -> Any:
        return self.rows.get(cmd_id)


class FakeEvents:
    def __init__(self) -> None:
        self.stored: list[tuple[Any, ...]] = []

    def add_command_snapshot(self, *args: Any) -> int:
        self.stored.append(args)
        return len(self.stored)


def test_snapshot_requests_once_a_second_per_camera_and_only_real_jpegs_stored() -> None:
    mono, wall = Clock(), Clock(5000.0)
    commands, events = FakeCommands(), FakeEvents()
    snaps = SnapshotRequests(
        commands,  # type: ignore[arg-type]
        events,  # type: ignore[arg-type]
        min_interval_s=1.0,
        timeout_s=10.0,
        clock=wall,
        monotonic=mono,
    )
    first = snaps.request("gw", "cam", ",x,")
    with pytest.raises(TooSoon) as too_soon:
        snaps.request("gw", "cam", ",x,")
    assert too_soon.value.retry_after == pytest.approx(1.0)
    other = snaps.request("gw", "cam-2", ",x,")  # another camera is not held back
    mono.now += 1.0
    third = snaps.request("gw", "cam", ",x,")
    picture = seed.jpeg()
    answer = {
        "status": "ok",
        "result": {"width": 32, "height": 24, "data_b64": base64.b64encode(picture).decode()},
    }
    for cmd_id, result in ((first, answer), (other, {"result": {"data_b64": "bm90IGEganBlZw=="}})):
        row = commands.rows[cmd_id]
        row.status, row.result, row.finished_at = "done", result, 5001.0
    assert snaps.poll_once() == 1
    assert events.stored == [("gw", "cam", picture, 32, 24, ",x,", 5001.0)]
    assert snaps.in_flight == 1  # the third still waits
    wall.now += 16.0  # past its timeout: given up without a picture
    assert snaps.poll_once() == 0 and snaps.in_flight == 0
    assert third


def test_decode_jpeg_refuses_what_is_not_a_bounded_picture() -> None:
    good = base64.b64encode(seed.jpeg()).decode()
    assert decode_jpeg({"result": {"data_b64": good, "width": 1, "height": 1}}) is not None
    assert decode_jpeg(None) is None
    assert decode_jpeg({"result": {"data_b64": "%%%", "width": 1, "height": 1}}) is None
    assert decode_jpeg({"result": {"data_b64": good, "width": 0, "height": 1}}) is None
    huge = base64.b64encode(b"\xff\xd8" + b"0" * 500_000).decode()
    assert decode_jpeg({"result": {"data_b64": huge, "width": 1, "height": 1}}) is None


def test_a_gateway_seen_through_one_camera_shows_that_camera_only() -> None:
    from controller.access.directory import Agency, Directory
    from controller.api.fleet import gateway_view
    from controller.api.visibility import Visibility

    directory = Directory(
        {
            "dishub": Agency(name="Dishub", devices=["gw-1/gate"]),
            "bpbd": Agency(name="BPBD", sites=["river"]),
        }
    )
    row = {
        "id": "gw-1",
        "state": "online",
        "state_reason": "",
        "state_since": 0.0,
        "last_seen": 0.0,
        "agent_version": "1",
        "config_version": 1,
        "inventory": {"cameras": [{"id": "gate"}, {"id": "yard"}]},
        "last_health": seed.health({"gate": seed.GOOD_CAMERA, "yard": seed.DOWN_CAMERA}),
        "last_health_ts": 0.0,
    }
    dishub = gateway_view(row, "river", Visibility(directory, Viewer(frozenset({"dishub"}))), 1.0)
    assert dishub is not None
    assert [c["id"] for c in dishub["cameras"]] == ["gate"]
    assert dishub["degraded"] is False and dishub["problems"] == []  # yard is not theirs
    bpbd = gateway_view(row, "river", Visibility(directory, Viewer(frozenset({"bpbd"}))), 1.0)
    assert bpbd is not None and [c["id"] for c in bpbd["cameras"]] == ["yard"]
    assert bpbd["problems"] == ["camera yard: stream down: timeout"]
    nobody = Visibility(directory, Viewer(frozenset({"disdik"})))
    assert gateway_view(row, "river", nobody, 1.0) is None
