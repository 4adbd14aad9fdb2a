"""The upgrade client against the real camera simulator over sockets: a good image installs and
the version is verified; a bad image gets 415; a device error 500; a camera that never comes
back is not_back; the image is checked (SHA-256, size, scheme) before any camera sees it, and it
travels on disk (a file in the given folder, posted from the file), not in memory."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cameras.firmware import (
    FirmwareUpgrade,
    Outcome,
    UpgradeError,
    download_image,
)
from agent.cameras.health import CameraHealth
from agent.cameras.onvif_client import OnvifClient
from sim.camera import SimCamera, read_image
from sim.camera.firmware import ImageError
from tests.camera_firmware.conftest import ImageServer

QUICK = {"firmware_upload_delay_s": 0.1, "firmware_down_time_s": 1.0}
NEW = "V5.7.5 build 230101"


@pytest.fixture
def cam() -> Iterator[SimCamera]:
    with SimCamera("hikvision", quirks=QUICK, discovery_port=None) as camera:
        yield camera


def upgrade(cam: SimCamera, margin_s: float = 2.0) -> FirmwareUpgrade:
    client = OnvifClient(cam.onvif_url, cam.username, cam.password, timeout_s=3.0)
    return FirmwareUpgrade(
        client, cam.username, cam.password, margin_s=margin_s, poll_s=0.2, timeout_s=5.0
    )


def test_good_image_installs_and_is_verified(cam: SimCamera, tmp_path: Path) -> None:
    windows: list[float] = []
    image = tmp_path / "fw.bin"  # posted from the file, as the command does
    image.write_bytes(cam.firmware_image(NEW))
    result = upgrade(cam).run(image, NEW, windows.append)
    assert result.outcome is Outcome.UPGRADED, result
    assert (result.before, result.after) == ("V5.7.3 build 220112", NEW)
    assert result.expected_down_s == 1.0
    assert windows and windows[0] >= 1.0  # the planned outage was announced before the POST
    assert cam.firmware == NEW and cam.firmware_upgrades == 1


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (b"MZ\x90\x00 not firmware\n", "415"),
        (b"KENDALI-SIM-FW\tDS-2CD2143G2-I\tV9\t" + b"0" * 64 + b"\npayload", "415"),  # checksum
        (b"KENDALI-SIM-FW\tIPC\tV9\tx\n", "415"),  # another model's image
    ],
)
def test_bad_image_is_refused_with_415(cam: SimCamera, image: bytes, why: str) -> None:
    result = upgrade(cam).run(image, "V9")
    assert result.outcome is Outcome.FAILED and why in result.reason, result
    assert cam.firmware == "V5.7.3 build 220112" and cam.firmware_upgrades == 0


def test_device_error_500_fails(cam: SimCamera) -> None:
    cam.set_quirk("firmware_upload_500", True)
    result = upgrade(cam).run(cam.firmware_image(NEW), NEW)
    assert result.outcome is Outcome.FAILED and "500" in result.reason, result
    assert cam.firmware == "V5.7.3 build 220112"


def test_camera_that_never_comes_back_is_not_back(cam: SimCamera) -> None:
    cam.set_quirk("firmware_never_back", True)
    result = upgrade(cam, margin_s=1.0).run(cam.firmware_image(NEW), NEW)
    assert result.outcome is Outcome.NOT_BACK, result
    assert "did not answer" in result.reason
    cam.set_quirk("firmware_never_back", False)  # power cycled: it boots the new image
    assert cam.firmware == NEW


def test_camera_that_boots_another_version_is_a_mismatch(cam: SimCamera) -> None:
    result = upgrade(cam).run(cam.firmware_image("V5.7.4 build 221212"), NEW)
    assert result.outcome is Outcome.VERSION_MISMATCH, result
    assert result.after == "V5.7.4 build 221212"


def test_camera_without_the_capability_is_not_touched(cam: SimCamera) -> None:
    cam.set_quirk("firmware_upgrade", False)
    result = upgrade(cam).run(cam.firmware_image(NEW), NEW)
    assert result.outcome is Outcome.FAILED and "does not offer" in result.reason


def test_image_download_is_checked(images: ImageServer, tmp_path: Path) -> None:
    data = b"KENDALI-SIM-FW\tSimCam-1\t1.2.0\t" + b"0" * 64 + b"\n"
    url = images.put("/fw.bin", data)
    good = hashlib.sha256(data).hexdigest()
    stale = tmp_path / ".camera-firmware-gw-1-old.part"  # left by an agent killed mid-download
    stale.write_bytes(b"half")
    other = tmp_path / ".camera-firmware-gw-2-x.part"  # another agent's, sharing the folder

    def fetch(where: str, sha: str, max_bytes: int = 1024) -> Path:
        return download_image(where, sha, tmp_path, max_bytes=max_bytes, timeout_s=5, owner="gw-1")

    other.write_bytes(b"busy")
    got = fetch(url, good.upper())
    assert got.parent == tmp_path and got.read_bytes() == data  # a file, not bytes in memory
    assert stat.S_IMODE(got.stat().st_mode) == 0o600
    assert not stale.exists() and other.exists()
    got.unlink()
    with pytest.raises(UpgradeError, match="SHA-256"):
        fetch(url, "ab" * 32)
    with pytest.raises(UpgradeError, match="limit"):
        fetch(url, good, max_bytes=16)
    with pytest.raises(UpgradeError, match="HTTP 404"):
        fetch(images.url("/missing"), good)
    with pytest.raises(UpgradeError, match="http or https"):
        fetch("file:///etc/passwd", good)
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name]  # failures leave nothing


def test_sim_image_format() -> None:
    from sim.camera import build_image

    assert read_image(build_image("SimCam-1", "1.2.0 build 1"), "SimCam-1") == "1.2.0 build 1"
    with pytest.raises(ImageError, match="checksum"):
        read_image(build_image("SimCam-1", "1.2.0") + b"x", "SimCam-1")


def test_planned_outage_shows_as_upgrading_in_health() -> None:
    health = CameraHealth(expected_fps=10)
    health.planned_outage(100.0)
    assert "upgrading" in health.report(50.0).conditions
    assert "upgrading" not in health.report(100.0).conditions  # the window is bounded
