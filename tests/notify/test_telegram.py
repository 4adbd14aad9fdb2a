"""Telegram (``tgram://``) for real, without the internet: a child process in mount and network
namespaces of its own (``unshare --mount --net``) resolves api.telegram.org to 127.0.0.1 through a
private /etc/hosts, answers there as the Bot API over HTTPS (tests/notify/telegram_fake.py), and
runs the notify worker against it (tests/notify/telegram_child.py). The namespaces end with the
child; nothing reaches the host's network or its /etc/hosts. One child runs every scenario; the
tests read what it recorded."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.notify.conftest import JPEG
from tests.notify.telegram_child import CHAT, TOKEN

REPO = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT_S = 60
Results = dict[str, Any]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create mount and network namespaces"
    missing = [tool for tool in ("unshare", "ip", "mount") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--net", "true"], capture_output=True, text=True, timeout=10
    )
    if probe.returncode != 0:
        return f"cannot create namespaces here: {probe.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def telegram(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, str]:
    """Every scenario's record and the controller's log (debug level, as the controller
    formats it)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("telegram")
    cmd = ["unshare", "--mount", "--net", sys.executable, "-m", "tests.notify.telegram_child"]
    # subprocess.run kills the child on timeout; unshare execs it, so its namespaces go with it
    done = subprocess.run(
        [*cmd, str(tmp)], cwd=REPO, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp / "result.json").read_text())
    return results, (tmp / "controller.log").read_text()


def calls(results: Results, scenario: str) -> list[dict[str, Any]]:
    return list(results[scenario]["calls"])


def test_an_alert_with_a_snapshot_is_one_photo_with_the_indonesian_text(
    telegram: tuple[Results, str],
) -> None:
    results, _ = telegram
    [call] = calls(results, "photo")
    assert call["method"] == "sendPhoto" and call["token"] == TOKEN and call["chat_id"] == CHAT
    assert call["photo_sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert call["photo_filename"] == "snapshot.jpg"
    caption = call["caption"]
    assert caption.startswith("<b>[KRITIS] Banjir Siaga I di ampal — gw-01/sungai-level</b>")
    assert "Lokasi: situs ampal, gateway gw-01, perangkat sungai-level (sensor)" in caption
    assert "Nilai: 2.134 m (ambang 2 m)" in caption
    assert caption.endswith("Buka: https://cc.example/console/#/alerts/7")
    counters = results["photo"]["counters"]
    assert counters["notify.bpbd-telegram.sent"] == 1 and results["photo"]["dead"] == []


def test_an_alert_without_a_snapshot_is_one_text_message(telegram: tuple[Results, str]) -> None:
    results, _ = telegram
    [call] = calls(results, "text")
    assert call["method"] == "sendMessage" and call["chat_id"] == CHAT
    assert call["text"].startswith("<b>[KRITIS] Banjir Siaga I di ampal")
    assert "\r\nTingkat: KRITIS · Jenis: flood.level\r\n" in call["text"]
    assert results["text"]["counters"]["notify.sent"] == 1


def test_chat_not_found_is_dead_lettered_at_once_with_telegrams_words(
    telegram: tuple[Results, str],
) -> None:
    results, _ = telegram
    assert len(calls(results, "chat_not_found")) == 1 and results["chat_not_found"]["slept"] == []
    [row] = results["chat_not_found"]["dead"]
    assert row["attempts"] == 1 and row["channel"] == "bpbd-telegram"
    assert row["reason"] == (
        f"refused: Failed to send Telegram notification to {CHAT}: "
        "Bad Request: chat not found, error=400."
    )  # Telegram's words once, though apprise logs them twice
    assert row["title"].startswith("[KRITIS] Banjir Siaga I")


def test_a_blocked_bot_is_dead_lettered_at_once(telegram: tuple[Results, str]) -> None:
    results, _ = telegram
    [call] = calls(results, "blocked")  # the photo upload is the one call, and it is refused
    assert call["method"] == "sendPhoto"
    [row] = results["blocked"]["dead"]
    assert row["attempts"] == 1 and results["blocked"]["slept"] == []
    # apprise's warning for a refused upload has only the code; Telegram's words are its reason
    assert row["reason"] == (
        "refused: Failed to send Telegram attachment: error=403.; "
        "Forbidden: bot was blocked by the user"
    )
    assert results["blocked"]["counters"]["notify.dead.refused"] == 1


def test_too_many_requests_is_retried_then_delivered_once(telegram: tuple[Results, str]) -> None:
    results, _ = telegram
    first, second = calls(results, "too_many")
    assert first["method"] == second["method"] == "sendMessage" and first["text"] == second["text"]
    assert len(results["too_many"]["slept"]) == 1 and results["too_many"]["dead"] == []
    # Telegram asked for 3 s ("retry after 3"); the channel's own first back-off is ~1.5 s
    assert results["too_many"]["slept"][0] >= 3.0, results["too_many"]["slept"]
    counters = results["too_many"]["counters"]
    assert counters["notify.failed"] == 1 and counters["notify.sent"] == 1


def test_the_bot_token_is_in_no_log_line_and_no_dead_letter(
    telegram: tuple[Results, str],
) -> None:
    results, log = telegram
    # urllib3 logs each request line with the token in its path; apprise warns of each refusal
    assert '"POST /bot***/sendPhoto' in log and "WARNING apprise: Failed to send Telegram" in log
    secret = TOKEN.split(":", 1)[1]
    for text in (log, json.dumps([r["dead"] for r in results.values()])):
        assert secret not in text


def test_text_that_looks_like_html_arrives_as_written(telegram: tuple[Results, str]) -> None:
    results, _ = telegram
    [call] = calls(results, "markup")
    assert results["markup"]["dead"] == [] and results["markup"]["counters"]["notify.sent"] == 1
    # Telegram reads HTML: the text is escaped so the chat shows "pasar<baru>&co" and "<b>pompa"
    caption = call["caption"]
    assert "Lokasi: situs pasar&lt;baru&gt;&amp;co, gateway gw-01, perangkat " in caption
    assert "&lt;b&gt;pompa&lt;/b&gt;" in caption and "<b>pompa" not in caption
    assert caption.startswith("<b>[KRITIS] Banjir Siaga I di pasar&lt;baru&gt;&amp;co")


def test_verify_no_is_what_lets_the_fake_in(telegram: tuple[Results, str]) -> None:
    results, _ = telegram
    assert calls(results, "verified") == []  # the TLS handshake failed: no request reached it
    [row] = results["verified"]["dead"]
    assert row["attempts"] == 3 and len(results["verified"]["slept"]) == 2  # retried per policy
    assert row["reason"].startswith("failed: ") and "CERTIFICATE_VERIFY_FAILED" in row["reason"]
