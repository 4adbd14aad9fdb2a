"""E-mail through apprise's ``mailto://`` to a real SMTP server on loopback (aiosmtpd), driven by
the notify worker as in the controller: one mail per alert in Indonesian with the snapshot,
refusals and outages retried per the channel's policy and dead-lettered with a readable reason,
the rate limit, and the SMTP password kept out of logs and dead letters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controller.notify.journal import NotifyStore
from controller.store.repo import Store
from tests.helpers import wait_for
from tests.notify.conftest import JPEG, add_journal, add_snapshot, controller_config, make_worker
from tests.notify.conftest import running as worker_running
from tests.notify.mailbox import (
    DUTY,
    SENDER,
    USER,
    Mailbox,
    attachments_of,
    mailboxes,
    text_of,
)

__all__ = ["mailboxes"]  # the fixture, imported for pytest

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")

RETRY = {"attempts": 3, "backoff_initial_s": 1.5, "backoff_max_s": 10}


def mail_channel(url: str, **channel: Any) -> dict[str, Any]:
    return {
        "channels": {"bpbd-mail": {"url": url, **channel}},
        "routes": [{"channels": ["bpbd-mail"]}],
        "retry": RETRY,
    }


def dead(store: Store) -> list[dict[str, Any]]:
    return NotifyStore(store).dead_rows()


def test_one_mail_in_indonesian_with_the_snapshot(
    store: Store, mailboxes: Callable[..., Mailbox]
) -> None:
    box = mailboxes()
    config = controller_config(
        {**mail_channel(box.url()), "console_url": "https://cc.example/console/"}
    )
    with worker_running(make_worker(config, store)):
        jid = add_journal(store, snapshot_id=add_snapshot(store))
        wait_for(lambda: store.counters().get("notify.lane.bpbd-mail") == jid, 10, what="sent")
    [mail] = box.messages
    assert mail["Subject"] == "[KRITIS] Banjir Siaga I di ampal — gw-01/sungai-level"
    assert mail["To"] == DUTY and SENDER in mail["From"]
    assert box.logins == [(USER, box.password)]
    lines = text_of(mail).splitlines()  # plain text, one fact a line
    assert lines[0] == "Status: baru"
    assert "Lokasi: situs ampal, gateway gw-01, perangkat sungai-level (sensor)" in lines
    assert "Nilai: 2.134 m (ambang 2 m)" in lines
    assert lines[-1] == "Buka: https://cc.example/console/#/alerts/7"
    assert attachments_of(mail) == [("snapshot.jpg", "image/jpeg", JPEG)]
    assert store.counters()["notify.bpbd-mail.sent"] == 1


def test_the_rate_limit_holds_for_mail(store: Store, mailboxes: Callable[..., Mailbox]) -> None:
    box = mailboxes()
    config = controller_config(
        {**mail_channel(box.url(), rate_per_minute=60, burst=2), "queue_max_wait_s": 0.5}
    )
    with worker_running(make_worker(config, store)):
        ids = [add_journal(store, device=f"gw-01/s-{n}") for n in range(5)]
        wait_for(
            lambda: store.counters().get("notify.lane.bpbd-mail") == ids[-1], 10, what="all done"
        )
    assert [m["Subject"][-3:] for m in box.messages] == ["s-0", "s-1"]
    rows = dead(store)
    assert sorted(r["journal_id"] for r in rows) == ids[2:]
    assert all(r["reason"].startswith("rate_limited: ") for r in rows)


def test_the_channels_rate_limit_is_the_only_pace(
    store: Store, mailboxes: Callable[..., Mailbox]
) -> None:
    box = mailboxes()
    config = controller_config(mail_channel(box.url(), rate_per_minute=600, burst=5))
    with worker_running(make_worker(config, store)):
        for n in range(3):
            add_journal(store, device=f"gw-01/s-{n}")
        wait_for(lambda: len(box.messages) == 3, 30, what="three mails")
    # The channel lets five go at once. apprise on its own pauses 5.5 s between two mails of
    # one channel (11 s for these three), in a sleep a stopping worker cannot interrupt.
    assert box.times[-1] - box.times[0] < 5.0, box.times
