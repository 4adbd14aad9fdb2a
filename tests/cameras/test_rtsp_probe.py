"""The RTSP check that explains a failed open: against the simulator's RTSP server (Digest per
personality) and a closed port; credentials never appear in what it reports."""

from __future__ import annotations

import logging

import pytest

from agent.cameras.capture import OpenCVSource
from agent.cameras.errors import AuthError, StreamNotFoundError, UnreachableError
from agent.cameras.rtsp_probe import Reply, authorization, check_rtsp

from .conftest import free_port

sim_camera = pytest.importorskip("sim.camera")
SimCamera = sim_camera.SimCamera


@pytest.fixture
def camera() -> object:
    with SimCamera(personality="hikvision", discovery_port=None) as cam:
        yield cam


def test_right_password_passes_and_a_wrong_or_missing_one_is_an_auth_error(
    camera: object,
) -> None:
    check_rtsp(camera.rtsp_url("sub"), 3)  # type: ignore[attr-defined]
    good = camera.rtsp_url("sub")  # type: ignore[attr-defined]
    wrong = good.replace(camera.password, "wrong-pw-123")  # type: ignore[attr-defined]
    with pytest.raises(AuthError, match="credentials rejected") as info:
        check_rtsp(wrong, 3)
    assert "wrong-pw-123" not in str(info.value)
    with pytest.raises(AuthError, match="credentials required"):
        check_rtsp(camera.rtsp_url("sub", credentials=False), 3)  # type: ignore[attr-defined]
    url = camera.rtsp_url("sub").replace("Channels/102", "Channels/999")  # type: ignore[attr-defined]
    with pytest.raises(StreamNotFoundError, match="no such stream"):
        check_rtsp(url, 3)


def test_closed_port_is_unreachable() -> None:
    with pytest.raises(UnreachableError) as info:
        check_rtsp(f"rtsp://u:secretpw@127.0.0.1:{free_port()}/x", 2)
    assert "secretpw" not in str(info.value)


def test_opencv_open_with_a_wrong_password_says_so(
    camera: object, caplog: pytest.LogCaptureFixture
) -> None:
    url = camera.rtsp_url("sub", credentials=False)  # type: ignore[attr-defined]
    source = OpenCVSource(url, username="admin", password="wrong-pw-123", open_timeout_s=4)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as info:
        source.open()
    assert "wrong-pw-123" not in str(info.value)
    assert "wrong-pw-123" not in caplog.text
    assert camera.rtsp_sessions == 0  # type: ignore[attr-defined]


def test_basic_is_answered_only_when_allowed_and_digest_is_not_offered() -> None:
    challenge = Reply(401, "Unauthorized", {"www-authenticate": ['Basic realm="cam"']})
    assert authorization(challenge, "DESCRIBE", "rtsp://h/x", "admin", "pw") is None
    basic = authorization(challenge, "DESCRIBE", "rtsp://h/x", "admin", "pw", allow_basic=True)
    assert basic == "Basic YWRtaW46cHc="
    unknown = Reply(401, "Unauthorized", {"www-authenticate": ['Bearer realm="cam"']})
    assert authorization(unknown, "DESCRIBE", "rtsp://h/x", "admin", "pw") is None
