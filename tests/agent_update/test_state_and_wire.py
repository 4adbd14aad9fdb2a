"""The machine's transition table, the state file, the wire contract (command and health) and
the agent-side pieces: the update command and the trial worker."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent.commands.handler import CommandFailed
from agent.commands.update import UpdateCommand
from agent.update import state as st
from agent.update.install import InstallError
from agent.update.updater import Stopped, Updater
from agent.update.worker import UpdateWorker, updater_from_env
from common.release import TrustStore, keys
from protocol import Topics, decode, encode
from protocol.commands import CommandError, parse_args
from tests.samples import HEALTH

FORWARD = [
    ("idle", "downloading"), ("downloading", "verifying"), ("verifying", "installing"),
    ("installing", "switching"), ("switching", "restarting"), ("restarting", "trial"),
    ("trial", "committed"), ("trial", "rolling_back"), ("rolling_back", "rolled_back"),
    ("downloading", "failed"), ("installing", "failed"), ("committed", "downloading"),
]  # fmt: skip
FORBIDDEN = [
    ("idle", "trial"), ("downloading", "switching"), ("restarting", "failed"),
    ("trial", "failed"), ("rolling_back", "failed"), ("failed", "trial"), ("committed", "trial"),
]  # fmt: skip


@pytest.mark.parametrize(("src", "dst"), FORWARD)
def test_allowed_transitions(src: str, dst: str) -> None:
    record = st.advance(st.UpdateRecord(state=src), dst, 5.0)
    assert (record.state, record.since) == (dst, 5.0)
    assert record.outcome == {"committed": "committed", "rolled_back": "rolled_back",
                              "failed": "failed"}.get(dst, "")  # fmt: skip


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN)
def test_forbidden_transitions(src: str, dst: str) -> None:
    """After the switch nothing may end in 'failed': only a commit or a rollback."""
    with pytest.raises(st.StateError, match=f"from {src} to {dst}"):
        st.advance(st.UpdateRecord(state=src), dst, 5.0)


def test_state_file_round_trip_is_atomic_and_tolerant(tmp_path: Path) -> None:
    store = st.StateStore(tmp_path, clock=lambda: 7.0)
    assert store.load() == st.UpdateRecord()  # nothing yet: idle
    store.advance("downloading", target="2.0.0", attempt=1)
    assert [p.name for p in tmp_path.iterdir()] == [st.STATE_FILE]  # no temp file left
    assert (store.path.stat().st_mode & 0o777) == 0o600
    raw = json.loads(store.path.read_bytes())
    raw["written_by_a_newer_agent"] = 1
    store.path.write_text(json.dumps(raw))
    assert store.load().target == "2.0.0"
    for bad in ('{"state": "exploded"}', '{"attempt": "3"}', "[]", "{"):
        store.path.write_text(bad)
        with pytest.raises(st.StateError):
            store.load()


def test_update_command_arguments() -> None:
    args = parse_args("update", ["https://ctl:8443/releases/2.0.0", "2.0.0", "--rollout", "r1"])
    assert args == {"url": "https://ctl:8443/releases/2.0.0", "version": "2.0.0",
                    "allow_downgrade": 0, "rollout": "r1"}  # fmt: skip
    assert parse_args("update", ["http://x/1.0", "1.0", "--allow-downgrade"])["allow_downgrade"]
    bad = (
        ["file:///etc/passwd", "1.0"], ["http://x", "bad version"], ["http://x"],
        ["http://x", "1.0", "--rollout"], ["http://x", "1.0", "--rollout", "a b"],
    )  # fmt: skip
    for words in bad:
        with pytest.raises(CommandError, match="usage: update"):
            parse_args("update", words)


def _health(**extra: Any) -> dict[str, Any]:
    body = json.loads(encode("gw-1", "health", {**HEALTH, **extra}, seq=1))["body"]
    decode(Topics("gw-1").health, encode("gw-1", "health", {**HEALTH, **extra}, seq=1))
    return body  # type: ignore[no-any-return]


def test_health_update_section_is_left_out_when_absent() -> None:
    assert "update" not in _health() and "update" not in _health(update=None)
    assert "agent_version" not in _health(agent_version=None)
    section = {"state": "trial", "target": "2.0.0", "previous": "1.0.0", "rollout": "r1"}
    body = _health(update=section, agent_version="2.0.0")
    assert body["update"]["state"] == "trial" and body["agent_version"] == "2.0.0"


class _NoInstall:
    def install(self, version: str, wheels: Path, slot: Path) -> None:
        raise InstallError("not in this test")


def _updater(tmp_path: Path, clock: Any = time.time, restart: Any = lambda: None) -> Updater:
    trust = TrustStore([keys.new_key().public_key()])
    return Updater(tmp_path / "update", tmp_path / "base", lambda: trust, "1.0.0",
                   installer=_NoInstall(), clock=clock, restart=restart)  # fmt: skip


def test_update_command(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="kendali-launcher"):
        UpdateCommand(lambda: None)({"url": "http://x/2.0.0", "version": "2.0.0"})
    worker = UpdateWorker(_updater(tmp_path), lambda: (True, ""))
    command = UpdateCommand(lambda: worker)
    with pytest.raises(CommandFailed, match="RELEASE_URL"):
        command({"url": "ftp://x", "version": "2.0.0"})
    answer = command({"url": "http://x/2.0.0", "version": "2.0.0", "rollout": "r9"})
    assert answer == {"state": "downloading", "target": "2.0.0", "previous": "1.0.0",
                      "rollout": "r9"}  # fmt: skip
    assert worker.kick.is_set() and worker.updater.store.load().state == "downloading"
    with pytest.raises(CommandFailed, match="is downloading"):
        command({"url": "http://x/2.0.0", "version": "2.0.0"})


def test_updater_from_env_only_under_the_launcher(tmp_path: Path) -> None:
    assert updater_from_env("1.0.0", lambda: None, env={}) is None
    env = {"KENDALI_UPDATE_DIR": str(tmp_path), "KENDALI_UPDATE_RATE": "125000",
           "KENDALI_TRIAL_WINDOW_S": "90"}  # fmt: skip
    updater = updater_from_env("1.0.0", lambda: None, env=env)
    assert updater is not None and (updater.rate, updater.trial_window_s) == (125000.0, 90.0)


def _in_trial(updater: Updater, deadline: float) -> None:
    updater.store.save(st.UpdateRecord(state="trial", target="1.0.0", previous="0.9.0",
                                       trial_deadline=deadline, trial_window_s=60))  # fmt: skip


def _run_worker(worker: UpdateWorker, until: str) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="update-test")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while worker.state() != until and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.kick.set()
        thread.join(5)
    assert worker.state() == until


def test_trial_commits_once_healthy_for_the_settle_time(tmp_path: Path) -> None:
    updater = _updater(tmp_path)
    _in_trial(updater, time.time() + 60)
    looks: list[int] = []

    def healthy() -> tuple[bool, str]:
        looks.append(1)
        return (len(looks) > 2, "not connected to the broker")

    _run_worker(UpdateWorker(updater, healthy, poll_s=0.01, settle_s=0.0), "committed")
    assert len(looks) >= 3  # not committed while unhealthy
    assert updater.health()["outcome"] == "committed"  # type: ignore[index]


def test_trial_past_its_deadline_asks_for_the_rollback(tmp_path: Path) -> None:
    restarts: list[int] = []
    updater = _updater(tmp_path, restart=lambda: restarts.append(1))
    _in_trial(updater, time.time() - 1)
    _run_worker(UpdateWorker(updater, lambda: (False, "not connected"), poll_s=0.01),
                "rolling_back")  # fmt: skip
    record = updater.store.load()
    assert record.reason == "trial_deadline" and "not connected" in record.detail
    assert restarts == [1]


def test_a_clean_stop_during_the_download_does_not_count_as_an_attempt(tmp_path: Path) -> None:
    """The agent stopping (systemd, a restart) mid-download leaves the step to resume; only a
    kill or a crash feeds the loop breaker."""
    updater = _updater(tmp_path)
    updater.store.save(st.UpdateRecord(state="downloading", target="2.0.0", attempt=2,
                                       url="http://127.0.0.1:9/2.0.0"))  # fmt: skip
    updater.stop.set()
    with pytest.raises(Stopped):
        updater.run()
    assert updater.recover().attempt == 2


def test_commit_prunes_old_slots_downloads_and_cached_wheels(tmp_path: Path) -> None:
    updater = _updater(tmp_path)  # runs 1.0.0
    slots = updater.slots
    for version in ("0.8.0", "0.9.0", "1.0.0"):
        slots.slot(version).mkdir(parents=True)
        slots.downloads(version).mkdir(parents=True)
        (slots.downloads(version) / f"kendali-{version}.whl").write_text(version)
    (slots.downloads("1.0.0") / "numpy-2.whl").write_text("n")
    slots.wheel_cache.mkdir()
    for name in ("kendali-0.8.0.whl", "kendali-1.0.0.whl", "numpy-2.whl"):
        (slots.wheel_cache / name).write_text("x")
    slots.switch(slots.slot("1.0.0"), slots.slot("0.9.0"))
    _in_trial(updater, time.time() + 60)
    assert updater.trial_step(True) == "committed"
    assert sorted(p.name for p in slots.slots.iterdir()) == ["0.9.0", "1.0.0"]
    assert [p.name for p in (slots.directory / "downloads").iterdir()] == ["1.0.0"]
    assert sorted(p.name for p in slots.wheel_cache.iterdir()) == [
        "kendali-1.0.0.whl", "numpy-2.whl",
    ]  # fmt: skip
