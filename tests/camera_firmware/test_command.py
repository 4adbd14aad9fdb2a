"""The ``camera-firmware`` command on the gateway side: its arguments (protocol), one upgrade per
gateway at a time, the planned-outage window around the upload, and the answer on failure."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest

from agent.cameras.config import CameraConfig
from agent.commands.camera_firmware import CameraFirmware
from agent.commands.handler import CommandFailed
from protocol.commands import CommandError, parse_args
from sim.camera import SimCamera
from tests.camera_firmware.conftest import ImageServer
from tests.helpers import wait_for

SHA = "ab" * 32


def test_arguments() -> None:
    args = parse_args("camera-firmware", ["cam-1", "https://h/fw.bin", "V5.7.5 build 230101",
                                          SHA.upper()])  # fmt: skip
    assert args == {"camera": "cam-1", "url": "https://h/fw.bin", "version": "V5.7.5 build 230101",
                    "sha256": SHA}  # fmt: skip
    bad = [
        ["cam-1", "https://h/fw.bin", "1.2.0"],
        ["cam-1", "ftp://h/fw.bin", "1.2.0", SHA],
        ["cam-1", "https://h/fw.bin", "1.2.0", "abc"],
        ["cam-1", "https://h/" + "x" * 130, "1.2.0", SHA],
    ]
    for words in bad:
        with pytest.raises(CommandError, match="usage: camera-firmware"):
            parse_args("camera-firmware", words)


class StubCameras:
    """The slice of CameraService the command uses, recording what it was told."""

    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        self.windows: list[float] = []
        self.noted: list[str] = []

    @property
    def camera_ids(self) -> list[str]:
        return [self.config.id]

    def configs(self) -> dict[str, CameraConfig]:
        return {self.config.id: self.config}

    def planned_outage(self, _camera: str, seconds: float) -> None:
        self.windows.append(seconds)

    def note_firmware(self, _camera: str, firmware: str) -> None:
        self.noted.append(firmware)


class View:
    def __init__(self, cameras: StubCameras) -> None:
        self.capabilities: dict[str, Any] = {"cameras": cameras}


def test_one_upgrade_per_gateway_and_the_window(images: ImageServer) -> None:
    quirks = {"firmware_upload_delay_s": 0.1, "firmware_down_time_s": 1.5}
    with SimCamera("textbook", quirks=quirks, discovery_port=None) as cam:
        image = cam.firmware_image("1.2.0")
        url = images.put("/fw.bin", image)
        cameras = StubCameras(CameraConfig.model_validate(
            {"id": "cam-1", "onvif_url": cam.onvif_url, "username": cam.username,
             "password": cam.password}))  # fmt: skip
        command = CameraFirmware(View(cameras), margin_s=2.0, poll_s=0.2)  # type: ignore[arg-type]
        args = {"camera": "cam-1", "url": url, "version": "1.2.0",
                "sha256": hashlib.sha256(image).hexdigest()}  # fmt: skip
        answers: list[dict[str, Any]] = []
        first = threading.Thread(target=lambda: answers.append(command(args)))
        first.start()
        try:
            wait_for(lambda: cameras.windows, 10, interval=0.02, what="planned outage")
            with pytest.raises(CommandFailed, match="one camera at a time"):
                command(args)
        finally:
            first.join(30)
        assert answers and answers[0]["outcome"] == "upgraded", answers
        assert cameras.windows[0] > 1.5 and cameras.windows[-1] == 0.0  # opened, then closed
        assert cameras.noted == ["1.2.0"]
        with pytest.raises(CommandFailed, match="version_mismatch") as caught:
            command({**args, "version": "1.3.0"})  # the same image again: it stays 1.2.0
        assert caught.value.result["after"] == "1.2.0"
        with pytest.raises(CommandFailed, match="no camera 'cam-9'"):
            command({**args, "camera": "cam-9"})
