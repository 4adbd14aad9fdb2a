"""Refused releases and the download itself, driven in-process with the real Updater and
Downloader against the loopback Range server: a refused release ends ``failed`` with the
release check's reason code and never switches; the manifest is checked before any wheel byte
is fetched; a cut download resumes without re-sending what had arrived."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.update import state as st
from agent.update.download import Downloader, DownloadError, TokenBucket
from agent.update.updater import Updater, UpdateRejected, UpdateRequest
from common.release import Manifest, TrustStore, keys
from sim.range_server import RangeServer
from tests.agent_update.fake_agent import FakeInstaller
from tests.agent_update.helpers import DAY, World, make_release

OLD, NEW = "1.0.0", "2.0.0"
WHEEL = f"kendali-{NEW}-py3-none-any.whl"


@pytest.fixture
def updater(world: World, monkeypatch: pytest.MonkeyPatch) -> Updater:
    monkeypatch.setenv("FAKE_WORLD", str(world.root))
    world.update_dir.mkdir(parents=True, exist_ok=True)
    trust = TrustStore.load(world.root / "trust.json")
    restarts: list[str] = []
    return Updater(
        world.update_dir,
        world.base,
        lambda: trust,
        OLD,
        installer=FakeInstaller(),
        restart=lambda: restarts.append("restart"),
        retry_pause_s=0.0,
    )


def _run(updater: Updater, url: str, version: str = NEW, **kw: object) -> st.UpdateRecord:
    updater.slots.ensure_current()
    updater.begin(UpdateRequest(url=url, version=version, **kw))  # type: ignore[arg-type]
    return updater.run()


def _assert_refused(updater: Updater, record: st.UpdateRecord, reason: str) -> None:
    assert (record.state, record.outcome, record.reason) == ("failed", "failed", reason)
    assert updater.slots.current() == updater.slots.base  # no switch
    assert not updater.slots.slot(record.target).exists()
    health = updater.health()
    assert health is not None and health["reason"] == reason


def test_good_release_reaches_restarting_and_switches(
    updater: Updater, release_2: str, server: RangeServer
) -> None:
    record = _run(updater, release_2, rollout="r-7")
    assert record.state == st.RESTARTING
    assert updater.slots.points_at(updater.slots.slot(NEW))
    assert updater.slots.target("previous") == updater.slots.base
    size = (updater.slots.downloads(NEW) / WHEEL).stat().st_size
    assert server.sent[WHEEL] == size and record.bytes_done == size == record.bytes_total
    assert updater.health()["rollout"] == "r-7"  # type: ignore[index]


def test_tampered_wheel_is_refused_after_download(
    updater: Updater, releases: Path, key: Ed25519PrivateKey, world: World, server: RangeServer
) -> None:
    make_release(releases / NEW, key, NEW, world.root)
    wheel = releases / NEW / WHEEL
    data = bytearray(wheel.read_bytes())
    data[100] ^= 0xFF  # same size, other bytes
    wheel.write_bytes(bytes(data))
    record = _run(updater, f"{server.url}/{NEW}")
    _assert_refused(updater, record, "hash_mismatch")


@pytest.mark.parametrize(
    ("case", "reason"),
    [("expired", "expired"), ("wrong_key", "unknown_key"), ("downgrade", "downgrade")],
)
def test_refused_before_any_wheel_is_fetched(
    case: str,
    reason: str,
    updater: Updater,
    releases: Path,
    key: Ed25519PrivateKey,
    world: World,
    server: RangeServer,
) -> None:
    version = "0.9.0" if case == "downgrade" else NEW
    signer = keys.new_key() if case == "wrong_key" else key
    long_ago = datetime.datetime.now(datetime.UTC) - 40 * DAY
    make_release(releases / version, signer, version, world.root,
                 created=long_ago if case == "expired" else None)  # fmt: skip
    record = _run(updater, f"{server.url}/{version}", version=version)
    _assert_refused(updater, record, reason)
    assert server.sent[f"kendali-{version}-py3-none-any.whl"] == 0


def test_operator_rollback_to_an_older_signed_release_is_allowed(
    updater: Updater, releases: Path, key: Ed25519PrivateKey, world: World, server: RangeServer
) -> None:
    make_release(releases / "0.9.0", key, "0.9.0", world.root)
    record = _run(updater, f"{server.url}/0.9.0", version="0.9.0", allow_downgrade=True)
    assert record.state == st.RESTARTING


def test_version_named_in_the_command_must_match_the_signed_manifest(
    updater: Updater, release_2: str
) -> None:
    record = _run(updater, release_2, version="2.0.1")
    _assert_refused(updater, record, "version_mismatch")


def test_a_second_request_while_one_runs_and_the_running_version_are_refused(
    updater: Updater, release_2: str
) -> None:
    with pytest.raises(UpdateRejected, match="already runs"):
        updater.begin(UpdateRequest(url=release_2, version=OLD))
    updater.begin(UpdateRequest(url=release_2, version=NEW))
    with pytest.raises(UpdateRejected, match="downloading"):
        updater.begin(UpdateRequest(url=release_2, version=NEW))


def test_unreachable_server_fails_with_download_error(updater: Updater, world: World) -> None:
    record = _run(updater, "http://127.0.0.1:9/2.0.0")
    assert (record.state, record.reason) == ("failed", "download_error")
    assert updater.slots.current() == updater.slots.base


def _manifest(release_dir: Path) -> Manifest:
    return Manifest.model_validate_json((release_dir / "manifest.json").read_bytes())


def _trust(world: World) -> TrustStore:
    return TrustStore.load(world.root / "trust.json")


@pytest.mark.parametrize("ignore_range", [False, True])
def test_cut_download_resumes_where_it_stopped(
    ignore_range: bool, tmp_path: Path, key: Ed25519PrivateKey, world: World
) -> None:
    """A connection cut after 70,000 bytes; a new downloader (as after a restart) asks for the
    rest with a Range request and only the rest is sent. A server that ignores Range makes it
    start that file again (and the file is still right)."""
    root = tmp_path / "srv"
    make_release(root / NEW, key, NEW, world.root, padding=300_000)
    manifest = _manifest(root / NEW)
    size = manifest.files[0].size
    dest = tmp_path / "dl"
    now = datetime.datetime.now(datetime.UTC)
    with RangeServer(root) as server:
        server.faults.cut_after[WHEEL] = 70_000
        server.faults.ignore_range = ignore_range
        first = Downloader(f"{server.url}/{NEW}", dest)
        first.manifest(_trust(world), now, OLD, allow_downgrade=False)
        with pytest.raises(DownloadError, match="at 70000 bytes"):
            first.files(manifest, lambda _p: None)
        assert (dest / WHEEL).stat().st_size == 70_000
        second = Downloader(f"{server.url}/{NEW}", dest)
        second.files(manifest, lambda _p: None)
    assert (dest / WHEEL).read_bytes() == (root / NEW / WHEEL).read_bytes()
    assert server.requests[-1] == (WHEEL, "bytes=70000-")
    assert server.sent[WHEEL] == (70_000 + size if ignore_range else size)


def test_a_link_cut_again_and_again_still_finishes_when_each_try_brings_bytes(
    updater: Updater, release_2: str, server: RangeServer
) -> None:
    """Five cuts in one attempt, each after new bytes: every resume asks only for the rest, and
    the attempt goes on (only tries in a row without progress count against it)."""
    server.faults.cuts[WHEEL] = [40_000] * 5
    record = _run(updater, release_2)
    assert record.state == st.RESTARTING, (record.state, record.reason)
    size = (updater.slots.downloads(NEW) / WHEEL).stat().st_size
    assert server.sent[WHEEL] == size  # nothing sent twice
    assert [r for r in server.requests if r[0] == WHEEL][-1] == (WHEEL, "bytes=200000-")


def test_a_server_that_never_sends_a_byte_fails_the_attempt(
    updater: Updater, release_2: str, server: RangeServer
) -> None:
    server.faults.cuts[WHEEL] = [0] * 10
    record = _run(updater, release_2)
    assert (record.state, record.reason) == ("failed", "download_error")
    assert server.sent[WHEEL] == 0
    assert len([r for r in server.requests if r[0] == WHEEL]) == 3
    assert updater.slots.current() == updater.slots.base


def test_wheel_cache_serves_an_unchanged_wheel_without_the_network(
    tmp_path: Path, key: Ed25519PrivateKey, world: World
) -> None:
    root = tmp_path / "srv"
    make_release(root / NEW, key, NEW, world.root)
    manifest = _manifest(root / NEW)
    now = datetime.datetime.now(datetime.UTC)
    cache = tmp_path / "cache"
    with RangeServer(root) as server:
        for attempt in ("a", "b"):
            dl = Downloader(f"{server.url}/{NEW}", tmp_path / attempt, cache=cache)
            dl.manifest(_trust(world), now, OLD, allow_downgrade=False)
            dl.files(manifest, lambda _p: None)
            dl.keep_in_cache(manifest)
    assert server.sent[WHEEL] == manifest.files[0].size  # sent once, not twice
    assert dl.progress.served_from_cache == [WHEEL]


def test_server_sending_more_than_the_manifest_lists_is_cut_off(
    tmp_path: Path, key: Ed25519PrivateKey, world: World
) -> None:
    root = tmp_path / "srv"
    make_release(root / NEW, key, NEW, world.root)
    manifest = _manifest(root / NEW)
    (root / NEW / WHEEL).write_bytes((root / NEW / WHEEL).read_bytes() + b"x" * 5000)
    with RangeServer(root) as server:
        dl = Downloader(f"{server.url}/{NEW}", tmp_path / "dl")
        with pytest.raises(DownloadError, match="more than"):
            dl.files(manifest, lambda _p: None)
    assert (tmp_path / "dl" / WHEEL).stat().st_size == manifest.files[0].size


def test_token_bucket_caps_the_rate() -> None:
    """1 MB through a 256 KB/s bucket: the recorded sleeps add up to about 3 s (the first
    second's worth goes at once)."""
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(256 * 1024, clock=lambda: now[0], sleep=sleep)
    sent = 0
    while sent < 1024 * 1024:
        sent += bucket.take(64 * 1024)
    assert 2.9 <= sum(slept) <= 3.1
