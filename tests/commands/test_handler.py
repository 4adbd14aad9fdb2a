"""The agent's command handler over data: expiry, unknown names, failures and the answer."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from agent.commands import CommandFailed, Commands, LogRing
from protocol.codec import new_id
from protocol.commands import CommandError, encode_command, parse_args
from protocol.envelope import WireModel


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def publish(self, kind: str, body: WireModel | dict[str, Any], **_kw: Any) -> None:
        self.sent.append((kind, body))


def _commands(now: float = 1000.0) -> tuple[Commands, Recorder]:
    rec = Recorder()
    cmds = Commands("gw-1", rec, clock=lambda: now)

    def fail(_args: dict[str, Any]) -> dict[str, Any]:
        raise CommandFailed("no camera 'x' on this gateway")

    cmds.register("ping", lambda _a: {"agent_time": now})
    cmds.register("snapshot", fail)
    return cmds, rec


def _request(name: str, expires_at: float = 2000.0, args: dict[str, Any] | None = None) -> bytes:
    return encode_command("gw-1", new_id(), name, args or {}, expires_at)


@pytest.mark.parametrize(
    ("name", "expires_at", "status", "error"),
    [
        ("ping", 2000.0, "ok", ""),
        ("ping", 999.0, "expired", "expired 1.0 s ago"),
        ("format-disk", 2000.0, "unknown", "unknown command; known: ping, snapshot"),
        ("snapshot", 2000.0, "error", "no camera 'x' on this gateway"),
    ],
)
def test_each_request_gets_one_answer(
    name: str, expires_at: float, status: str, error: str
) -> None:
    cmds, rec = _commands()
    cmds.on_command(_request(name, expires_at))
    [(kind, body)] = rec.sent
    assert kind == "cmd_response"
    assert (body.name, body.status, body.error) == (name, status, error)


def test_a_request_for_another_gateway_or_malformed_is_not_answered() -> None:
    cmds, rec = _commands()
    cmds.on_command(encode_command("gw-2", new_id(), "ping", {}, 2000.0))
    cmds.on_command(b'{"v":1,"gw":"gw-1"}')
    assert rec.sent == [] and cmds.rejected_messages == 2


@pytest.mark.parametrize(
    ("name", "words", "args"),
    [
        ("restart", ["agent"], {"target": "agent"}),
        ("restart", ["camera", "gate"], {"target": "camera", "id": "gate"}),
        ("snapshot", ["gate"], {"camera": "gate"}),
        ("log", ["--lines", "20"], {"lines": 20}),
        ("log", [], {"lines": 100}),
        ("ping", [], {}),
    ],
)
def test_command_line_arguments(name: str, words: list[str], args: dict[str, Any]) -> None:
    assert parse_args(name, words) == args


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("restart", []),
        ("restart", ["camera"]),
        ("log", ["--lines", "0"]),
        ("ping", ["x"]),
        ("nope", []),
    ],
)
def test_bad_command_lines_are_refused(name: str, words: list[str]) -> None:
    with pytest.raises(CommandError):
        parse_args(name, words)


def test_the_log_ring_is_bounded_and_redacted() -> None:
    ring = LogRing(size=3)
    logger = logging.getLogger("tests.commands.ring")
    logger.addHandler(ring)
    logger.setLevel(logging.INFO)
    try:
        for i in range(5):
            logger.info("line %d rtsp://admin:hunter2@cam/stream", i)
    finally:
        logger.removeHandler(ring)
    lines = ring.last(10)
    assert [line.split("line ")[1][0] for line in lines] == ["2", "3", "4"]
    assert not any("hunter2" in line for line in lines)
