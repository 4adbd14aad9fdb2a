"""A camera's ``ptz`` section (GetStatus rates): validated like the rest of the camera config
(bounds, unknown keys, errors naming the field, exit 2 from ``kendali agent --check``), and
the poller asking at the configured rates, counted by the simulator that answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cameras import CameraConfig
from agent.cameras.ptz_moves import CameraMoves
from agent.cameras.ptz_poller import PtzPoller, PtzTiming
from common.supervision import Supervisor, Worker
from kendali_cli.main import app
from sim.camera import SimCamera
from tests.helpers import wait_for, write_yaml


def _config(cam: SimCamera | None = None, ptz: dict[str, Any] | None = None) -> CameraConfig:
    reach: dict[str, Any] = {"host": "10.0.0.5"}
    if cam is not None:
        reach = {"onvif_url": cam.onvif_url, "username": cam.username, "password": cam.password}
    fields = {"id": "cam-ptz", **reach}
    return CameraConfig.model_validate({**fields, **({"ptz": ptz} if ptz is not None else {})})


def test_defaults_are_unchanged_and_the_section_sets_the_poller() -> None:
    default = PtzTiming.for_camera(_config())
    assert (default.idle_s, default.moving_s) == (1.0, 0.5) == (PtzTiming.idle_s,
                                                                 PtzTiming.moving_s)  # fmt: skip
    assert default.recheck_s == 300
    timing = PtzPoller(_config(ptz={"poll_s": 5, "moving_poll_s": 0.25}), CameraMoves()).timing
    assert (timing.idle_s, timing.moving_s) == (5, 0.25)
    # A moving head is never asked less often than a resting one.
    fast = PtzTiming.for_camera(_config(ptz={"poll_s": 0.2}))
    assert (fast.idle_s, fast.moving_s) == (0.2, 0.2)


BAD: list[tuple[dict[str, Any], str]] = [
    ({"poll_s": 0.1}, "ptz.poll_s: Input should be greater than or equal to 0.2"),
    ({"poll_s": 61}, "ptz.poll_s: Input should be less than or equal to 60"),
    ({"moving_poll_s": 0}, "ptz.moving_poll_s: Input should be greater than or equal to 0.2"),
    ({"poll_s": "fast"}, "ptz.poll_s: Input should be a valid number"),
    ({"interval_s": 1}, "ptz.interval_s: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("ptz", "line"), BAD, ids=[b[1].split(":")[0] + str(b[0]) for b in BAD])
def test_bad_rates_name_the_field_and_check_exits_2(
    ptz: dict[str, Any], line: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError) as caught:
        _config(ptz=ptz)
    field = line.split(":", maxsplit=1)[0]
    assert [".".join(map(str, e["loc"])) for e in caught.value.errors()] == [field]
    path = write_yaml(tmp_path / "agent.yaml", {
        "gateway_id": "gw-01", "outbox": {"path": str(tmp_path / "o" / "out.db")},
        "cameras": [{"id": "cam1", "host": "10.0.0.5", "ptz": ptz}],
    })  # fmt: skip
    result = CliRunner().invoke(app, ["agent", "--config", str(path), "--check"])
    assert result.exit_code == 2, result.output
    assert f"\n  cameras.0.{line}" in result.stderr, result.stderr
    assert not (tmp_path / "o").exists()


def test_good_rates_pass_the_check(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "agent.yaml", {
        "gateway_id": "gw-01", "outbox": {"path": str(tmp_path / "o" / "out.db")},
        "cameras": [{"id": "cam1", "host": "10.0.0.5",
                     "ptz": {"poll_s": 0.2, "moving_poll_s": 0.2}}],
    })  # fmt: skip
    result = CliRunner().invoke(app, ["agent", "--config", str(path), "--check"])
    assert (result.exit_code, result.stderr) == (0, ""), result.output


@contextmanager
def polled(*pollers: PtzPoller) -> Iterator[Supervisor]:
    """The pollers under one supervisor, as the camera service runs them."""
    supervisor = Supervisor()
    for i, poller in enumerate(pollers):
        supervisor.add(Worker(f"camera-cam{i}-ptz", poller.run))
    supervisor.start()
    try:
        yield supervisor
    finally:
        assert supervisor.stop(5.0) == []


def test_a_faster_poll_s_asks_more_often_than_the_default_over_the_same_window() -> None:
    """Two cameras polled side by side, one at ``poll_s: 0.2`` and one at the default 1 s:
    while the default one is asked four more times, the fast one is asked at least twice as
    often (about five times in theory; equal rates could give one more at most). Both counts
    come from the simulators, over the same stretch of time, so load slows both alike."""
    with ExitStack() as stack:
        fast_cam, slow_cam = (
            stack.enter_context(SimCamera("hikvision", discovery_port=None)) for _ in range(2)
        )
        fast_moves, slow_moves = CameraMoves(), CameraMoves()
        fast = PtzPoller(_config(fast_cam, {"poll_s": 0.2}), fast_moves)
        slow = PtzPoller(_config(slow_cam), slow_moves)
        with polled(fast, slow):
            wait_for(lambda: fast_moves.state == slow_moves.state == "polling", 15, what="polling")
            fast_at = fast_cam.ptz.requests["GetStatus"]
            slow_at = slow_cam.ptz.requests["GetStatus"]
            slow_now = wait_for(
                lambda: (n := slow_cam.ptz.requests["GetStatus"]) >= slow_at + 4 and n,
                20, what="four more polls at the default rate",
            )  # fmt: skip
            fast_now = fast_cam.ptz.requests["GetStatus"]
    slow_polls, fast_polls = slow_now - slow_at, fast_now - fast_at
    assert slow_polls >= 4
    assert fast_polls >= 2 * slow_polls, (fast_polls, slow_polls)
    assert fast.connects == slow.connects == 1


def test_moving_poll_s_is_used_while_the_head_moves() -> None:
    """Two cameras resting at ``poll_s: 60`` make the same 3 s preset move, one watched at
    ``moving_poll_s: 0.2``, the other at 1 s. A sample asked as each head starts turning (as a
    motion start asks) sees the move; its end is seen by the moving rate alone (at the resting
    rate the next question would come a minute later), and the fast one is asked at least twice
    as often during its move (about three times in theory)."""
    rates = (0.2, 1.0)
    with ExitStack() as stack:
        cams = [stack.enter_context(SimCamera("hikvision", discovery_port=None)) for _ in rates]
        moves = [CameraMoves() for _ in rates]
        heard: list[list[bool]] = [[], []]
        for m, h in zip(moves, heard, strict=True):
            m.listen(h.append)
        pollers = [
            PtzPoller(_config(cam, {"poll_s": 60, "moving_poll_s": rate}), m)
            for cam, rate, m in zip(cams, rates, moves, strict=True)
        ]
        with polled(*pollers):
            wait_for(lambda: all(m.state == "polling" and m.preset == "1" for m in moves), 15,
                     what="polled")  # fmt: skip
            resting = [cam.ptz.requests["GetStatus"] for cam in cams]
            for cam in cams:
                cam.goto_preset("2")  # 3 s at the simulator's default speed
            assert all(m.request_sample() for m in moves)
            wait_for(lambda: heard == [[True, False]] * 2, 20, what="both moves, then their ends")
            during = [
                cam.ptz.requests["GetStatus"] - n for cam, n in zip(cams, resting, strict=True)
            ]
            assert [m.preset for m in moves] == ["2", "2"]
    fast, slow = during
    assert slow >= 2 and fast >= 2 * slow, during  # the start, the end, and between them
    assert [p.timing.moving_s for p in pollers] == list(rates)
    assert [p.timing.idle_s for p in pollers] == [60, 60]
