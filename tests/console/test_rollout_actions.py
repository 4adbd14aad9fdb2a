"""Pausing, resuming and aborting a rollout from the console's rollouts page, in a real browser
against the real controller: the page and the API agree on each new state, every action is
audited, an abort needs a confirmation, and the buttons follow the role (the API has the last
word either way).

The rollouts target gateways that are not connected, so they wait as ``offline`` and stay open
(running or paused) for as long as a test needs, without commands reaching anyone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import update

from controller.access import audit
from controller.access.users import UserStore
from controller.rollouts.policy import RolloutPolicy
from controller.rollouts.store import RolloutStore
from controller.store.schema import users
from tests.console.browser import Browser
from tests.console.conftest import PASSWORD, Console
from tests.helpers import wait_for

BUTTONS_JS = """
return Array.from(document.querySelectorAll(arguments[0] + " .rollout-actions button"))
  .map((b) => b.dataset.action);
"""


WORDS_JS = """const done = arguments[arguments.length - 1];
Promise.all(["i18n", "api", "rollouts"].map((n) => import(`/console/js/${n}.js`)))
  .then(([i18n, api, page]) => {
    const out = {};
    for (const lang of ["id", "en"]) {
      i18n.setLanguage(lang, false);
      out[lang] = [
        page.actionError(new api.ApiError(409, "conflict", "cannot pause a paused one"), "pause"),
        page.actionError(new api.ApiError(409, "busy", "kept changing"), "abort"),
        page.actionError(new api.ApiError(403, "forbidden", "operator role needed"), "resume"),
      ];
    }
    i18n.setLanguage("id", false);
    out.actions = ["running", "paused", "completed", "aborted", "new"].map(page.actionsFor);
    return out;
  }).then(done, (e) => done({error: String(e)}));
"""


def _user(console: Console, name: str, role: str) -> None:
    store = UserStore(console.store.engine)
    if store.get(name) is None:
        store.create(name, PASSWORD, role, [], True, display_name=name)


def _rollout(console: Console, targets: list[str]) -> str:
    return RolloutStore(console.store.engine).create(
        version="3.1.0",
        release_url="http://127.0.0.1:9/releases/3.1.0",
        targets=targets,
        target={"gateways": targets},
        policy=RolloutPolicy(),
        who="admin-cli",
    )


def _status(console: Console, rid: str) -> str:
    got: dict[str, Any] = RolloutStore(console.store.engine).get(rid)
    return str(got["status"])


def _buttons(b: Browser, scope: str = ".rollouts-body") -> list[str]:
    return b.driver.execute_script(BUTTONS_JS, scope)  # type: ignore[no-any-return]


def _shown_status(b: Browser) -> str | None:
    return b.driver.execute_script(  # type: ignore[no-any-return]
        "return document.querySelector('.rollouts-body h3 .badge')?.dataset.status ?? null"
    )


def _message(b: Browser) -> dict[str, str]:
    return b.driver.execute_script(  # type: ignore[no-any-return]
        "const m = document.querySelector('.rollout-message');"
        "return {kind: m.dataset.kind || '', text: m.hidden ? '' : m.textContent};"
    )


def _trail(console: Console, rid: str) -> list[tuple[str, str]]:
    rows = audit.recent(console.store.engine, limit=1000)
    return sorted((a["action"], a["who"]) for a in rows if a["target"] == rid)


def _settled(b: Browser, status: str, buttons: list[str]) -> None:
    """Until the page shows ``status`` with exactly ``buttons`` (drawn from the stored state)."""
    b.wait(
        lambda _d: _shown_status(b) == status and _buttons(b) == buttons,
        what=f"page showing {status} with {buttons}",
    )


def test_an_admin_pauses_resumes_and_aborts_a_rollout(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    _user(console, "kepala", "admin")
    rid = _rollout(console, ["gw-cadangan-1", "gw-cadangan-2"])
    b = browsers()
    console.session(b, "kepala", "/console/#/rollouts")
    b.wait_css(f'tr[data-rollout="{rid}"] .rollout-actions')
    assert _buttons(b, f'tr[data-rollout="{rid}"]') == ["pause", "abort"]  # no resume
    assert b.find(".rollouts-page table.rollouts thead").text.endswith("Tindakan")
    b.click(f'tr[data-rollout="{rid}"] a')
    _settled(b, "running", ["pause", "abort"])
    assert b.find(".act-pause").text == "Jeda"
    console.screenshot(b, "rollout-actions")

    b.click(".rollouts-body .act-pause")
    _settled(b, "paused", ["resume", "abort"])
    assert _status(console, rid) == "paused"
    assert _message(b) == {"kind": "ok", "text": f"Pembaruan 3.1.0 ({rid}) dijeda."}

    b.click(".rollouts-body .act-resume")
    _settled(b, "running", ["pause", "abort"])
    assert _status(console, rid) == "running"

    # abort asks first; keeping it changes nothing
    b.click(".rollouts-body .act-abort")
    dialog = b.wait_css(f'dialog.confirm-abort[data-rollout="{rid}"]')
    assert "3.1.0" in dialog.text and dialog.is_displayed()
    console.screenshot(b, "rollout-abort-confirm")
    b.click("dialog.confirm-abort .confirm-no")
    b.wait(lambda d: not b.find_all("dialog.confirm-abort"), what="the dialog closed")
    assert _status(console, rid) == "running"
    assert _trail(console, rid) == sorted(
        [("rollout.create", "admin-cli"), ("rollout.pause", "kepala"),
         ("rollout.resume", "kepala")]
    )  # fmt: skip

    b.click(".rollouts-body .act-abort")
    b.wait_css("dialog.confirm-abort")
    b.click("dialog.confirm-abort .confirm-yes")
    _settled(b, "aborted", [])  # nothing applies to an aborted rollout
    got = RolloutStore(console.store.engine).get(rid)
    assert got["status"] == "aborted" and got["reason"] == "aborted by kepala"
    assert {g["status"] for g in got["gateways"]} == {"skipped"}
    assert _message(b)["kind"] == "ok" and not b.find_all("dialog.confirm-abort")
    assert _trail(console, rid) == sorted(
        [("rollout.create", "admin-cli"), ("rollout.pause", "kepala"),
         ("rollout.resume", "kepala"), ("rollout.abort", "kepala")]
    )  # fmt: skip
    assert b.unexpected_errors() == []


def test_buttons_follow_the_role_and_the_api_refuses_the_rest(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    rid = _rollout(console, ["gw-cadangan-3"])
    # a viewer sees the rollout but no button, and the API refuses the viewer anyway
    v = browsers()
    console.session(v, "pantau", "/console/#/rollouts")
    v.wait_css(f'tr[data-rollout="{rid}"]')
    assert not v.find_all(".rollout-actions") and "Tindakan" not in v.find("table.rollouts").text
    with httpx.Client(base_url=console.url, timeout=10.0) as h:
        bearer = {"Authorization": f"Bearer {console.tokens['pantau']}"}
        for action in ("pause", "resume", "abort"):
            r = h.post(f"/api/v1/rollouts/{rid}/{action}", headers=bearer)
            assert r.status_code == 403, r.text
    assert _status(console, rid) == "running"
    # a refusal in each language, and which buttons each state gets, from the shipped module
    words = v.driver.execute_async_script(WORDS_JS)
    assert "error" not in words, words
    assert words["actions"] == [["pause", "abort"], ["resume", "abort"], [], [], []]
    assert words["id"][0].startswith("Tidak bisa menjalankan “Jeda”: status pembaruan sudah")
    assert words["en"][0].startswith("Could not “Pause”: the rollout's state changed")
    assert words["id"][1:] == ["Pembaruan sedang berubah; coba lagi.",
                               "Anda tidak berhak melakukan ini."]  # fmt: skip
    assert words["en"][1:] == ["The rollout is changing right now; try again.",
                               "You are not allowed to do this."]  # fmt: skip

    # an operator gets the buttons (the API lets operators act); one demoted to viewer while the
    # page is open is refused by the API, and the page says so in Indonesian
    _user(console, "jaga-malam", "operator")
    o = browsers()
    console.session(o, "jaga-malam", f"/console/#/rollouts/{rid}")
    _settled(o, "running", ["pause", "abort"])
    with console.store.engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == "jaga-malam").values(role="viewer"))
    o.click(".rollouts-body .act-pause")
    wait_for(lambda: _message(o)["kind"] == "error", 10, what="the refusal shown")
    assert _message(o)["text"] == "Anda tidak berhak melakukan ini."
    assert _status(console, rid) == "running" and _shown_status(o) == "running"
    assert [a for a, _ in _trail(console, rid)] == ["rollout.create"]
    assert o.unexpected_errors("status of 403") == []
    RolloutStore(console.store.engine).act(rid, "abort", "test")  # leaves nothing open
