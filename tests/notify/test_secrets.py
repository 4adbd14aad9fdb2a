"""A channel URL carries tokens and passwords: none of it may reach a log line or a dead letter."""

from __future__ import annotations

import logging
from collections.abc import Callable

import apprise
import pytest

from common.redact import redact
from controller.notify.channel import failure_from, register_url_secrets
from controller.notify.journal import NotifyStore
from controller.store.repo import Store
from tests.helpers import wait_for
from tests.notify.conftest import Receiver, add_journal, controller_config, make_worker, running

BOT = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
HOOK_TOKEN = "JHMHI8qBe7bk2ZwO5U711o3dV_js"


def test_tokens_apprise_hides_are_masked_on_their_own() -> None:
    for url in (f"tgram://{BOT}/-1001234567890", f"discord://4174216298/{HOOK_TOKEN}"):
        plugin = apprise.Apprise.instantiate(url)
        register_url_secrets(url, plugin)
    text = redact(f"telegram said: bad token {BOT}; discord webhook {HOOK_TOKEN} gone")
    assert BOT not in text and HOOK_TOKEN not in text
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in text
    assert "-1001234567890" not in redact(f"tgram://{BOT}/-1001234567890")


def test_header_and_parameter_values_are_masked() -> None:
    url = "jsons://platform.example/hooks?+Authorization=Bearer%20SEKRET-abc123&-apikey=QSECRET99"
    register_url_secrets(url, apprise.Apprise.instantiate(url))
    text = redact("sent Authorization: Bearer SEKRET-abc123 with apikey QSECRET99")
    assert "SEKRET-abc123" not in text and "QSECRET99" not in text


def test_failure_reason_and_permanence() -> None:
    assert failure_from(["Failed to send: Unauthorized., error=401."]).permanent
    assert not failure_from(["Failed to send: Too Many Requests, error=429."]).permanent
    assert not failure_from(["A Connection error occurred sending JSON notification"]).permanent
    assert failure_from([]).reason == "delivery failed (apprise gave no reason)"


def test_a_failing_channel_logs_no_password(
    store: Store, receivers: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    rec = receivers(codes=[500] * 5)
    password = "S3cret-Hook-Pass"
    url = rec.url.replace("json://", f"json://hook-user:{password}@")
    config = controller_config(
        {
            "channels": {"ops": {"url": url}},
            "routes": [{"channels": ["ops"]}],
            "retry": {"attempts": 2, "backoff_initial_s": 1, "backoff_max_s": 1},
        }
    )
    caplog.set_level(logging.DEBUG)
    with running(make_worker(config, store, sleep=lambda _s: None)):
        add_journal(store)
        wait_for(lambda: NotifyStore(store).dead_rows(), 10, what="a dead letter")
    [row] = NotifyStore(store).dead_rows()
    assert "500" in row["reason"]
    assert password not in caplog.text and password not in str(row)
    assert "notify channel ops: attempt 1 failed" in caplog.text
