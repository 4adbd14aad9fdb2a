"""RTSP/H.264 over TCP, read with OpenCV and ffprobe; drops and connection limits."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time

import numpy as np
import pytest

from tests.sim_camera.rtsp_client import open_capture, read_frames, rtsp_request


def test_substream_readable_with_opencv(make_camera):
    cam = make_camera("hikvision", fps=10, discovery_port=None)
    frames, rate = read_frames(cam.rtsp_url("sub"), seconds=3.0)
    assert frames[0].shape == (360, 640, 3)
    assert 5 <= rate <= 25  # roughly 10 fps; the first GOP may arrive in a burst


def test_main_stream_resolution_and_ffprobe(make_camera):
    cam = make_camera("dahua", fps=10, discovery_port=None)
    cmd = ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-analyzeduration", "1000000",
           "-show_streams", "-of", "json", cam.rtsp_url("main")]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True)
    stream = json.loads(out.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720)
    assert stream["has_b_frames"] == 0


def test_concurrent_clients_share_one_encoder(make_camera):
    cam = make_camera(fps=10, discovery_port=None)
    results: list[int] = []

    def reader() -> None:
        results.append(len(read_frames(cam.rtsp_url("sub"), seconds=1.5)[0]))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 3
    assert min(results) > 5


def test_wrong_password_and_describe(make_camera):
    cam = make_camera("hikvision", discovery_port=None)
    url = cam.rtsp_url("sub", credentials=False)
    reply = rtsp_request(cam.host, cam.rtsp_port, [f"DESCRIBE {url} RTSP/1.0", "CSeq: 2"])
    assert reply.startswith("RTSP/1.0 401")
    assert 'WWW-Authenticate: Digest realm="IP Camera(C1234)"' in reply
    bad = open_capture(url.replace("rtsp://", "rtsp://admin:nope@"), timeout_ms=3000)
    assert not bad.isOpened()
    bad.release()


def test_sdp_and_udp_refused_without_auth(make_camera):
    cam = make_camera("generic", discovery_port=None)  # generic: no RTSP auth
    url = cam.rtsp_url("sub", credentials=False)
    reply = rtsp_request(cam.host, cam.rtsp_port, [f"DESCRIBE {url} RTSP/1.0", "CSeq: 2"])
    assert "sprop-parameter-sets=" in reply
    assert "packetization-mode=1" in reply
    options = rtsp_request(cam.host, cam.rtsp_port, [f"OPTIONS {url} RTSP/1.0", "CSeq: 1"])
    assert "GET_PARAMETER" in options
    setup = [
        f"SETUP {url}/trackID=1 RTSP/1.0",
        "CSeq: 3",
        "Transport: RTP/AVP;client_port=5000-5001",
    ]
    udp = rtsp_request(cam.host, cam.rtsp_port, setup)
    assert udp.startswith("RTSP/1.0 461")


def test_connection_limit(make_camera):
    cam = make_camera("tapo", quirks={"rtsp_max_clients": 1}, discovery_port=None)
    first = open_capture(cam.rtsp_url("sub"))
    try:
        assert first.isOpened()
        assert cam.rtsp_sessions == 1
        second = open_capture(cam.rtsp_url("main"), timeout_ms=3000)
        assert not second.isOpened()
        second.release()
        assert first.read()[0]
    finally:
        first.release()


def test_stream_drop_and_return(make_camera):
    cam = make_camera(fps=10, discovery_port=None)
    cap = open_capture(cam.rtsp_url("sub"), timeout_ms=3000)
    try:
        assert cap.read()[0]
        cam.set_condition("drop")
        ok = True
        for _ in range(60):  # buffered frames drain, then the closed connection shows
            ok = cap.read()[0]
            if not ok:
                break
        assert not ok
    finally:
        cap.release()
    refused = open_capture(cam.rtsp_url("sub"), timeout_ms=2000)
    assert not refused.isOpened()
    refused.release()
    cam.clear_condition()
    frames, _ = read_frames(cam.rtsp_url("sub"), seconds=0.5)
    assert frames


def test_encoder_stops_when_idle(make_camera):
    cam = make_camera(fps=10, linger=0.5, discovery_port=None)
    assert not cam.encoder_running("sub")
    read_frames(cam.rtsp_url("sub"), seconds=0.3)
    for _ in range(50):
        if not cam.encoder_running("sub"):
            break
        threading.Event().wait(0.1)
    assert not cam.encoder_running("sub")


@pytest.mark.slow
def test_session_timeout_closes_silent_client(make_camera):
    cam = make_camera("generic", quirks={"rtsp_session_timeout": 5}, discovery_port=None)
    import socket

    with socket.create_connection((cam.host, cam.rtsp_port), timeout=10) as sock:
        sock.sendall(f"OPTIONS {cam.rtsp_url('sub')} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        sock.recv(4096)
        sock.settimeout(10)
        assert sock.recv(4096) == b""  # closed after the session timeout


def _read_for(cap, seconds: float) -> list:
    frames = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ok, frame = cap.read()
        assert ok
        frames.append(frame)
    return frames


def test_conditions_reach_the_stream(make_camera):
    cam = make_camera(fps=10, discovery_port=None)
    cap = open_capture(cam.rtsp_url("sub"))
    try:
        normal = _read_for(cap, 0.5)[-1]
        cam.set_condition("dark")
        dark = _read_for(cap, 1.0)[-1]
        assert dark.mean() < normal.mean() * 0.3
        cam.set_condition("frozen")
        frozen = [f.astype(np.int16) for f in _read_for(cap, 1.5)[-10:]]
        diffs = [float(np.abs(a - b).mean()) for a, b in itertools.pairwise(frozen)]
        # identical pictures in; out only the encoder's quality refinements of the same picture
        assert max(diffs) < 2.0
        assert float(np.median(diffs)) < 0.6
    finally:
        cap.release()
