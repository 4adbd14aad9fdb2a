"""The pure parts of the operator commands: --since, the acting user, the degraded summary and
the --follow loop (an injected clock and sleep, a list standing in for the index)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from controller.fleet.view import problem_summary
from kendali_cli.events import FOLLOW_OVERLAP_S, _follow
from kendali_cli.terminal import SinceError, acting_user, parse_since

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "ago"), [("10m", 600), ("2h", 7200), ("30s", 30), ("1d", 86400), ("1.5h", 5400)]
)
def test_since_durations(text: str, ago: float) -> None:
    assert parse_since(text, NOW) == NOW - ago


def test_since_iso_with_and_without_a_zone() -> None:
    assert (
        parse_since("2026-12-01T08:00:00+07:00", NOW)
        == datetime(2026, 12, 1, 1, 0, tzinfo=UTC).timestamp()
    )
    local = datetime(2026, 12, 1, 8, 0).astimezone().timestamp()
    assert parse_since("2026-12-01T08:00", NOW) == local


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "5w", "-3m", "2026-13-01"])
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(SinceError, match="--since"):
        parse_since(text, NOW)


def test_acting_user_is_marked_as_the_terminal() -> None:
    assert acting_user("ani") == "ani@cli"
    assert acting_user(None).endswith("@cli") and len(acting_user(None)) > 4


def _cam(problems: list[str]) -> dict[str, Any]:
    return {"id": "c", "problems": problems}


def test_problem_summary_counts_cameras_and_sensors() -> None:
    condition = {
        "cameras": [_cam(["stream down"]), _cam(["stream down"]), _cam([]), _cam([]), _cam([])],
        "sensors": [{"id": "s", "problems": ["state stopped"]}],
        "problems": ["outbox disk: disk_full", "camera c: stream down", "sensor s: state stopped"],
    }
    assert problem_summary(condition) == (
        "outbox disk: disk_full, 2/5 cameras down, 1 sensor failing"
    )
    assert problem_summary({"cameras": [_cam(["x"])], "sensors": [], "problems": []}) == (
        "1/1 camera down"
    )
    assert problem_summary({"cameras": [_cam([])], "sensors": [], "problems": []}) == ""


def test_follow_yields_each_new_event_once_oldest_first() -> None:
    clock = [NOW]
    index: list[dict[str, Any]] = [{"event_id": "a", "received_at": NOW - 1}]
    asked: list[float | None] = []

    def read(since: float | None) -> list[dict[str, Any]]:
        asked.append(since)
        rows = [r for r in index if since is None or r["received_at"] >= since]
        return sorted(rows, key=lambda r: r["received_at"], reverse=True)  # newest first

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    stream = _follow(read, list(index), sleep=sleep, clock=lambda: clock[0])
    index.append({"event_id": "b", "received_at": NOW + 1})
    index.append({"event_id": "c", "received_at": NOW + 2})
    assert [next(stream)["event_id"], next(stream)["event_id"]] == ["b", "c"]
    # committed late with an older arrival time: still inside the overlap, shown once
    index.append({"event_id": "d", "received_at": NOW + 0.5})
    assert next(stream)["event_id"] == "d"
    assert asked[-1] == NOW + 2 - FOLLOW_OVERLAP_S


def test_follow_lines_keep_columns_and_show_hostile_text_literally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kendali_cli.events import _text_line

    row = {
        "event_id": "ab" * 16,
        "received_at": NOW,
        "gateway_id": "gw-1",
        "source": "[/b]\x1b[2J",
        "type": "motion",
        "severity": "critical",
        "phase": "start",
        "site": "",
        "snapshot_id": 3,
        "attributes": {"zone": "gate\u202e"},
    }
    _text_line(row)
    _text_line(row | {"gateway_id": "gw-with-a-very-long-name-indeed", "source": "cam-1"})
    first, second = capsys.readouterr().out.splitlines()
    assert "\x1b" not in first and "\u202e" not in first
    assert "[/b]\\x1b[2J" in first and 'zone="gate\\u202e"' in first
    assert first.index("ab" * 16) == second.index("ab" * 16)  # same column
    assert "gw-with-a-ver…" in second
