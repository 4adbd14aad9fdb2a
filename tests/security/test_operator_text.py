"""Text from gateways and cameras reaches a terminal only escaped: fleet status, logs, storage."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from rich.console import Console

from common.logsetup import SafeFormatter
from common.text import escape_controls, for_terminal, safe_text
from controller.fleet.view import render_table

HOSTILE = [
    "[/bold]",
    "[red]fake[/red]",
    "1.0\x1b[2J\x1b[31mPWNED",
    "ok\r\nforged line",
    "abc\u202edcba",
    "c1\x9bcontrol",
    "\x07bell\x00nul",
]


def _row(version: str, **extra: Any) -> dict[str, Any]:
    row = {
        "gateway": "gw-1",
        "state": "offline",
        "state_reason": "lost",
        "last_seen_ago_s": 3.0,
        "cpu_percent": 5.0,
        "memory_percent": 20.0,
        "disk_percent": 30.0,
        "temperature_c": None,
        "outbox_depth": 0,
        "agent_version": version,
    }
    return row | extra


def _render(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    Console(file=out, width=300, force_terminal=False, color_system=None).print(render_table(rows))
    return out.getvalue()


@pytest.mark.parametrize("version", HOSTILE)
def test_fleet_status_shows_hostile_versions_literally(version: str) -> None:
    text = _render([_row(version, state_reason=version)])
    assert escape_controls(version) in text  # shown as written, markup not interpreted
    for raw in ("\x1b", "\r", "\u202e", "\x9b", "\x07", "\x00"):
        assert raw not in text


def test_control_characters_become_visible_escapes() -> None:
    assert escape_controls("a\x1b[31mb\nc\u202e") == "a\\x1b[31mb\\nc\\u202e"
    assert escape_controls("tb\nline", keep_newlines=True) == "tb\nline"
    assert escape_controls("plain text, ünïcode ✓") == "plain text, ünïcode ✓"
    assert for_terminal("[/bold]") == "\\[/bold]"


def test_safe_text_is_bounded_and_escaped() -> None:
    assert safe_text("x" * 50, 10) == "x" * 9 + "…"
    assert len(safe_text("\x1b" * 100, 40)) == 40
    assert safe_text("short\x1b", 100) == "short\\x1b"
    assert "\x1b" not in safe_text("\x1b" * 100, 40)


def test_log_message_and_arguments_cannot_forge_lines() -> None:
    fmt = SafeFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord(
        "t", logging.WARNING, __file__, 1, "camera says %s\x1b[0m", ("hi\nERROR forged",), None
    )
    line = fmt.format(record)
    assert "\n" not in line
    assert "\x1b" not in line
    assert line == "WARNING camera says hi\\nERROR forged\\x1b[0m"


def test_log_traceback_keeps_its_lines_but_not_controls() -> None:
    fmt = SafeFormatter("%(message)s")
    try:
        int("bad \x1b[31m value")
    except ValueError:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    text = fmt.format(record)
    assert "\x1b" not in text
    assert text.count("\n") >= 3  # message, traceback lines
