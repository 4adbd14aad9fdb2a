"""E-mail through apprise's ``mailto://`` to a real SMTP server on loopback (aiosmtpd), driven by
the notify worker as in the controller: one mail per alert in Indonesian with the snapshot,
refusals and outages retried per the channel's policy and dead-lettered with a readable reason,
the rate limit, and the SMTP password kept out of logs and dead letters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from controller.notify.channel import failure_from
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
    closed_port,
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


def test_wrong_password_is_not_retried_and_dead_lettered_readably(
    store: Store, mailboxes: Callable[..., Mailbox], caplog: pytest.LogCaptureFixture
) -> None:
    box = mailboxes()
    wrong = "Salah-Kata-Sandi-99"
    slept: list[float] = []
    config = controller_config(mail_channel(box.url(password=wrong)))
    caplog.set_level(logging.DEBUG)
    with worker_running(make_worker(config, store, sleep=slept.append)):
        jid = add_journal(store)
        wait_for(lambda: dead(store), 10, what="a dead letter")
    [row] = dead(store)
    assert row["journal_id"] == jid and row["channel"] == "bpbd-mail"
    assert row["attempts"] == 1 and slept == []  # an authentication failure is never retried
    assert row["reason"].startswith("refused: ") and "535" in row["reason"], row["reason"]
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN) within one attempt
    assert set(box.logins) == {(USER, wrong)} and box.messages == []
    assert row["title"].startswith("[KRITIS] Banjir Siaga I")
    for text in (caplog.text, str(row)):
        assert wrong not in text and box.password not in text


def test_a_refused_recipient_is_dead_lettered_with_the_servers_reply(
    store: Store, mailboxes: Callable[..., Mailbox]
) -> None:
    box = mailboxes(rcpt_replies=["550 5.1.1 mailbox unavailable"] * 5)
    config = controller_config(mail_channel(box.url()))
    with worker_running(make_worker(config, store, sleep=lambda _s: None)):
        add_journal(store)
        wait_for(lambda: dead(store), 10, what="a dead letter")
    [row] = dead(store)
    assert row["attempts"] == 1 and row["reason"].startswith("refused: ")
    assert "550" in row["reason"] and "mailbox unavailable" in row["reason"], row["reason"]
    assert box.refused == [f"{DUTY}: 550 5.1.1 mailbox unavailable"]
    assert store.counters()["notify.dead.refused"] == 1


def test_a_deferral_is_retried_then_delivered_once(
    store: Store, mailboxes: Callable[..., Mailbox]
) -> None:
    box = mailboxes(rcpt_replies=["451 4.3.0 try again later"])
    slept: list[float] = []
    config = controller_config(mail_channel(box.url()))
    with worker_running(make_worker(config, store, sleep=slept.append)):
        add_journal(store, snapshot_id=None)
        wait_for(lambda: store.counters().get("notify.sent"), 10, what="delivery")
    assert len(box.messages) == 1 and len(slept) == 1 and slept[0] >= 1.5
    assert attachments_of(box.messages[0]) == []  # no snapshot, no attachment
    counters = store.counters()
    assert counters["notify.failed"] == 1 and dead(store) == []


def test_a_closed_port_is_retried_per_policy_then_dead_lettered(store: Store) -> None:
    slept: list[float] = []
    url = f"mailto://{USER}:pw-Closed-Port-1@127.0.0.1:{closed_port()}?to={DUTY}&from={SENDER}"
    config = controller_config(mail_channel(url))
    with worker_running(make_worker(config, store, sleep=slept.append)):
        add_journal(store)
        wait_for(lambda: dead(store), 15, what="a dead letter")
    [row] = dead(store)
    assert row["attempts"] == 3 and len(slept) == 2 and slept[0] < slept[1]
    assert row["reason"].startswith("failed: ") and "refused" in row["reason"].lower()
    assert "pw-Closed-Port-1" not in str(row)
    assert store.counters()["notify.failed"] == 3


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


def test_smtp_replies_become_the_reason() -> None:
    warning = 'Connection error while submitting email to "mail.example"'
    auth = failure_from([warning, "(535, b'5.7.8 Authentication credentials invalid')"])
    assert auth.permanent
    assert auth.reason == f"{warning}; SMTP 535 5.7.8 Authentication credentials invalid"
    rcpt = failure_from(["{'a@b.example': (550, b'5.1.1 no such user')}"])
    assert rcpt.permanent and rcpt.reason == "SMTP 550 5.1.1 no such user (to a@b.example)"
    partly = failure_from(["SMTP recipient a@b.example was refused: 452 b'4.2.2 mailbox full'"])
    assert not partly.permanent and partly.reason == "SMTP 452 4.2.2 mailbox full"
    assert not failure_from(["[Errno 111] Connection refused"]).permanent
    assert not failure_from(["(421, b'4.7.0 too many connections')"]).permanent


def test_a_password_with_reserved_characters_goes_percent_encoded(
    store: Store, mailboxes: Callable[..., Mailbox], caplog: pytest.LogCaptureFixture
) -> None:
    box = mailboxes(password="p@ss/w#rd?&=:%+ 9")  # as docs/notifications.md says to write it
    config = controller_config(mail_channel(box.url()))
    caplog.set_level(logging.DEBUG)
    with worker_running(make_worker(config, store)):
        add_journal(store)
        wait_for(lambda: box.messages, 10, what="the mail")
    assert box.logins == [(USER, "p@ss/w#rd?&=:%+ 9")]
    assert "p@ss/w#rd?&=:%+ 9" not in caplog.text and "p%40ss%2Fw%23rd" not in caplog.text
