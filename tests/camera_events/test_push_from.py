"""``events.push_from``: a camera whose Notify comes from another address than the one the
gateway reaches it at (a NAT between them, a camera sending from a second interface). Real
loopback sockets: the client binds its source address among the loopback aliases (127.0.0.0/8
all work on Linux), so "another address" is a real sender address the consumer sees."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from pydantic import ValidationError

from agent.cameras.config import CameraConfig
from agent.cameras.events_config import CameraEventsConfig
from agent.cameras.push_consumer import NotifyConsumer
from kendali_cli.config_fleet import agent_validator
from sim.camera import SimCamera
from tests.cameras.conftest import RecordingPublisher

from .helpers import running, wait_for
from .test_push import MOTION_ON, _first, _post, push_subscriber, walking

CAMERA = "127.0.0.1"


@pytest.mark.parametrize(
    ("push_from", "accepted", "refused"),
    [
        ([], [CAMERA], ["127.0.0.2"]),
        (["127.0.0.2"], [CAMERA, "127.0.0.2"], ["127.0.0.3"]),
        (["127.0.0.0/30"], ["127.0.0.2", "127.0.0.3", CAMERA], ["127.0.0.4", "127.0.0.9"]),
    ],
    ids=["none", "one-address", "small-network"],
)
def test_notify_taken_from_the_camera_and_its_push_from_only(
    consumer: NotifyConsumer,
    caplog: pytest.LogCaptureFixture,
    push_from: list[str],
    accepted: list[str],
    refused: list[str],
) -> None:
    caplog.set_level(logging.INFO, "agent.cameras.push_consumer")
    settings = CameraEventsConfig(push_from=push_from)  # as the subscriber passes them
    inbox = consumer.register("cam1", CAMERA, CAMERA, 0, settings.push_from)
    url = inbox.url
    stop = threading.Event()
    try:
        for sender in refused:
            assert _post(url, MOTION_ON, source=sender) == 403, sender
        assert inbox.received == 0 and inbox.take(0.1, stop) is None  # nothing let through
        for sender in accepted:
            assert _post(url, MOTION_ON, source=sender) == 200, sender
            assert _post(url, MOTION_ON, source=sender) == 200, sender  # logged once only
            assert inbox.last_sender == sender
        result = inbox.take(5, stop)
    finally:
        consumer.unregister(inbox)
    assert result is not None and len(result.notifications) == 2 * len(accepted)
    assert inbox.received == 2 * len(accepted) and inbox.refused == len(refused)
    extra = [s for s in accepted if s != CAMERA]
    assert consumer.stats["accepted"] == 2 * len(accepted)
    assert consumer.stats["accepted_push_from"] == 2 * len(extra)
    assert consumer.stats["wrong_source"] == len(refused)
    lines = [r.getMessage() for r in caplog.records]
    refusals = [line for line in lines if "refused with 403" in line]
    assert len(refusals) == len(refused)
    assert all("list it in events.push_from" in line for line in refusals)
    assert all(("nor in its events.push_from" in line) == bool(push_from) for line in refusals)
    for sender in extra:  # an accepted one from a listed address: once, naming the entry
        told = [line for line in lines if f"accepted from {sender} " in line]
        assert len(told) == 1 and f"events.push_from {push_from[0]}" in told[0], told
    assert not any(f"accepted from {CAMERA}" in line for line in lines)


def test_an_ipv4_mapped_sender_matches_its_ipv4_entry() -> None:
    consumer = NotifyConsumer()
    inbox = consumer.register("cam1", "10.0.0.9", CAMERA, 0, ["10.0.5.0/29"])
    try:
        assert inbox.sender_entry("::ffff:10.0.5.3") == "10.0.5.0/29"
        assert inbox.sender_entry("10.0.5.8") is None
        assert inbox.sender_entry("::ffff:10.0.0.9") == ""  # the camera itself
        assert inbox.sender_entry("not an address") is None
    finally:
        consumer.close()


def test_a_camera_sending_from_its_other_interface(consumer: NotifyConsumer) -> None:
    """The gateway reaches the simulated camera at 127.0.0.3, but the camera's Notify leave
    from 127.0.0.1 (the kernel's source address towards the consumer): refused, every one,
    until push_from lists it; then the camera's motion arrives as from any pushing camera."""
    publisher = RecordingPublisher()
    with SimCamera("generic", host="127.0.0.3", discovery_port=None) as cam:
        worker = push_subscriber(cam, consumer, publisher)
        with running(worker):
            wait_for(lambda: cam.ctx.events.push_statuses[403] >= 1, 10, "a refused Notify")
            assert worker.health.mode == "push" and worker.health.inbox is not None
            assert worker.health.inbox.source_ip == "127.0.0.3"
            report = worker.health.report(time.monotonic(), 0)
        assert report.notifies == 0 and report.notifies_refused is not None
        assert report.notifies_refused >= 1 and cam.ctx.events.pushed == 0
        assert consumer.stats["wrong_source"] >= 1

        listed = RecordingPublisher()
        worker = push_subscriber(cam, consumer, listed, push_from=["127.0.0.0/30"])
        with running(worker):
            inbox = wait_for(lambda: worker.health.inbox, 10, "subscribed again")
            wait_for(lambda: inbox.received, 10, "the initial states' Notify")
            with walking(cam):
                start = wait_for(lambda: _first(listed, "motion", "start"), 10, "motion")
            wait_for(lambda: _first(listed, "motion", "end"), 10, "motion end")
            assert inbox.last_sender == CAMERA and inbox.refused == 0
            report = worker.health.report(time.monotonic(), 0)
    assert start.attributes["origin"] == "camera" and report.notifies_refused == 0
    assert report.notifies is not None and report.notifies >= 2
    assert consumer.stats["accepted_push_from"] >= 2
    assert publisher.events("motion") == []  # nothing got through while it was not listed


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("not-an-ip", "is not an IP address or network"),
        ("10.0.0.0/8", "too wide (/8; at most /24 for IPv4): every host in it could post"),
        ("0.0.0.0/0", "is every address: anyone could then post events as this camera"),
        ("fd00::/64", "too wide (/64; at most /120 for IPv6)"),
        ("10.0.5.1/29", "has host bits set: write the network as 10.0.5.0/29"),
    ],
)
def test_push_from_entries_that_are_refused_say_which_and_why(entry: str, why: str) -> None:
    camera = {"id": "cam1", "onvif_url": "http://10.0.0.9/onvif/device_service",
              "events": {"push_from": ["10.0.5.1", entry]}}  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        CameraConfig.model_validate(camera)
    (error,) = caught.value.errors()
    assert error["loc"] == ("events", "push_from", 1) and why in error["msg"]
    # The controller checks a fleet configuration with the agent's own model: the same line.
    problems = agent_validator({"cameras": [camera]})
    assert len(problems) == 1 and problems[0].startswith("cameras.0.events.push_from.1: ")
    assert why in problems[0]


def test_push_from_defaults_to_nobody_and_writes_entries_plainly() -> None:
    assert CameraEventsConfig().push_from == []
    settings = CameraEventsConfig(push_from=["10.0.5.1/32", "FD00::/120", "::ffff:10.0.5.2"])
    assert settings.push_from == ["10.0.5.1", "fd00::/120", "10.0.5.2"]
    with pytest.raises(ValidationError, match="at most 16"):
        CameraEventsConfig(push_from=[f"10.0.5.{i}" for i in range(17)])
