"""Texts the server writes in English read in the operator's language: a rollout's reason and each
gateway's (the engine's own words, the agent's update reason codes with their detail), a camera's
PTZ error and why its analytics subscription is not up, and the controller's problem list. The
console matches the server's known wording (textmatch.js) and keeps what it does not know as
written; the page keeps the server's text in the cell's title for whoever needs the original."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from controller.rollouts.policy import RolloutPolicy
from controller.rollouts.store import RolloutStore
from controller.store.schema import rollout_gateways, rollouts
from tests.console.browser import Browser
from tests.console.conftest import Console
from tests.console.test_camera_analytics import figure, send_health
from tests.helpers import wait_for

OFFLINE = "offline when its wave started"
DISK_FULL = (
    "disk_full: downloading: No space left on device in /var/lib/kendali/update. "
    "524288000 bytes free there: free space and send the update again."
)

# (server text, Indonesian, English), through one function of the shipped modules.
GATEWAY_REASONS = [
    (OFFLINE, "luring saat gelombangnya dimulai", OFFLINE),
    ("already runs 3.2.0", "sudah menjalankan 3.2.0", "already runs 3.2.0"),
    (
        "no outcome 1800 s after its command (last: downloading)",
        "tanpa hasil 30 mnt setelah perintahnya (terakhir: Mengunduh)",
        "no outcome 30 min after its command (last: Downloading)",
    ),
    ("rollout aborted", "pembaruan dibatalkan", "rollout aborted"),
    (
        DISK_FULL,
        "disk penuh: saat mengunduh, di /var/lib/kendali/update. Sisa 524,3 MB di sana: kosongkan "
        "ruang lalu kirim pembaruan lagi",
        "disk full: while downloading, in /var/lib/kendali/update. 524.3 MB free there: free space "
        "and send the update again",
    ),
    (
        "disk_full: disk_full: cannot record the update in /var/lib/kendali/update: No space left "
        "on device; nothing was started. Free space there and send the update again.",
        "disk penuh: pembaruan tidak bisa dicatat di /var/lib/kendali/update; tidak ada yang "
        "dimulai. Kosongkan ruang di sana lalu kirim pembaruan lagi",
        "disk full: the update could not be recorded in /var/lib/kendali/update; nothing was "
        "started. Free space there and send the update again",
    ),
    ("read_only", "disk hanya-baca", "disk read-only"),
    (
        "bad_signature: manifest.json does not match its signature by key k1",
        "tanda tangan rilis tidak cocok: manifest.json does not match its signature by key k1",
        "release signature does not match: manifest.json does not match its signature by key k1",
    ),
    (
        "trial_deadline: 3.2.0 did not connect and pass its health checks within 300 s",
        "tidak sehat selama uji coba, dikembalikan: 3.2.0 tidak tersambung dan lolos pemeriksaan "
        "kesehatan dalam 5 mnt",
        "not healthy on trial, rolled back: 3.2.0 did not connect and pass its health checks "
        "within 5 min",
    ),
    (
        "installing_error: RuntimeError: boom",
        "kesalahan saat memasang: RuntimeError: boom",
        "error while installing: RuntimeError: boom",
    ),
    (
        "trial_deadline: not healthy within 120 s: worker(s) not running: link",
        "tidak sehat selama uji coba, dikembalikan: tidak sehat dalam 2 mnt: proses belum "
        "berjalan: link",
        "not healthy on trial, rolled back: not healthy within 2 min: worker(s) not running: link",
    ),
    (
        "answered 'not_back' with version '', not 5.7.1",
        "kamera menjawab not_back dengan versi , bukan 5.7.1",
        "the camera answered not_back with version , not 5.7.1",
    ),
    (
        "not_back: camera did not answer within 600 s (no reply)",
        "kamera tidak menjawab dalam 10 mnt (tanpa balasan)",
        "the camera did not answer within 10 min (no reply)",
    ),
    # a device's own words and a code the console does not know: as written, in both
    ("pip exited with 2", "pip exited with 2", "pip exited with 2"),
    ("quantum_flux: reversed", "quantum_flux: reversed", "quantum_flux: reversed"),
]
ROLLOUT_REASONS = [
    ("3 of 4 committed", "3 dari 4 berhasil", "3 of 4 committed"),
    ("aborted by kepala", "dibatalkan oleh kepala", "aborted by kepala"),
    (
        "wave 2 ended with 50% committed, 100% needed",
        "gelombang 2 berakhir dengan 50% berhasil, perlu 100%",
        "wave 2 ended with 50% committed, 100% needed",
    ),
]
CAMERA_TEXTS = [  # (function, server text, Indonesian, English)
    (
        "eventsReason",
        "subscription gone: http://10.0.0.5/onvif/events: no answer in time",
        "langganan hilang: http://10.0.0.5/onvif/events: tidak menjawab tepat waktu",
        "subscription gone: http://10.0.0.5/onvif/events: no answer in time",
    ),
    (
        "eventsReason",
        "PullPoint refused (the camera says it has no PullPoint support): cam: not supported (x); "
        "push subscriptions are off",
        "kamera tidak mendukung PullPoint (cam: tidak didukung (x)); langganan push dimatikan",
        "no PullPoint support (cam: not supported (x)); push subscriptions are off",
    ),
    (
        "eventsReason",
        "no free subscription slot",
        "no free subscription slot",
        "no free subscription slot",
    ),
    (
        "cameraError",
        "cam: http://10.0.0.5/onvif: credentials rejected (wrong user or password)",
        "cam: http://10.0.0.5/onvif: login ditolak (nama pengguna atau kata sandi salah)",
        "cam: http://10.0.0.5/onvif: login refused (wrong user or password)",
    ),
    (
        "problemText",
        "camera cam-yard: stream down: timeout",
        "kamera cam-yard: video terputus: timeout",
        "camera cam-yard: stream down: timeout",
    ),
    (
        "problemText",
        "sensor level-1: state crashed (port gone)",
        "sensor level-1: keadaan: gagal (port gone)",
        "sensor level-1: state: crashed (port gone)",
    ),
    (
        "problemText",
        "outbox disk: disk_full",
        "disk antrean kirim: disk penuh",
        "outbox disk: disk full",
    ),
    (
        "problemText",
        "worker update failed",
        "proses update berhenti karena gagal",
        "worker update failed",
    ),
    (
        "problemText",
        "camera cam-gate: condition: covered",
        "kamera cam-gate: kondisi: Kamera tertutup",
        "camera cam-gate: condition: Camera covered",
    ),
    (
        "warningText",
        "certificate expires in 3.0 days; renewal failed: controller unreachable",
        "sertifikat kedaluwarsa dalam 3.0 hari; perpanjangan gagal: controller unreachable",
        "certificate expires in 3.0 days; renewal failed: controller unreachable",
    ),
    (
        "warningText",
        "certificate expires in 5.5 hours",
        "sertifikat kedaluwarsa dalam 5.5 jam",
        "certificate expires in 5.5 hours",
    ),
    ("warningText", "something new", "something new", "something new"),
]

TEXTS_JS = """const [cases, done] = [arguments[0], arguments[arguments.length - 1]];
Promise.all(["i18n", "rollouttext", "fleettext"].map((n) => import(`/console/js/${n}.js`)))
  .then(([i18n, rollout, fleet]) => {
    const fns = {...rollout, ...fleet};
    const out = {};
    for (const lang of ["id", "en"]) {
      i18n.setLanguage(lang, false);
      out[lang] = cases.map(([fn, text]) => fns[fn](text));
    }
    i18n.setLanguage("id", false);
    return out;
  }).then(done, (e) => done({error: String(e)}));
"""

REASONS_JS = """
const cell = (css) => document.querySelector(css);
const row = (gw) => cell(`tr[data-gateway="${gw}"]`);
const rows = [...document.querySelectorAll("table.rollout-gateways tbody tr")];
return {
  reason: cell(".rollout-reason")?.textContent ?? null,
  reasonTitle: cell(".rollout-reason")?.title ?? null,
  gateways: Object.fromEntries(rows.map((r) => [r.dataset.gateway,
    [r.querySelector(".badge").textContent, r.querySelector(".gateway-reason").textContent,
     r.querySelector(".gateway-reason").title]])),
};
"""


def test_the_matchers_in_both_languages(console: Console, browsers: Callable[..., Browser]) -> None:
    b = browsers()
    b.open("/console/login.html")  # no session needed to load modules
    b.wait_css("#login-form")
    cases = (
        [("gatewayReason", text, i, e) for text, i, e in GATEWAY_REASONS]
        + [("rolloutReason", text, i, e) for text, i, e in ROLLOUT_REASONS]
        + CAMERA_TEXTS
    )
    got = b.driver.execute_async_script(TEXTS_JS, [[fn, text] for fn, text, _i, _e in cases])
    assert "error" not in got, got
    for (fn, text, want_id, want_en), said_id, said_en in zip(
        cases, got["id"], got["en"], strict=True
    ):
        assert (said_id, said_en) == (want_id, want_en), (fn, text)


def _seed_rollout(console: Console) -> tuple[str, list[str]]:
    """A rollout to three gateways that never connect: the worker itself marks each "offline when
    its wave started"; then, as if the third had come and failed on a full disk, it is failed
    with the agent's reason and the rollout aborted at its failure limit (written the way the
    store writes, the revision raised, so the worker leaves the finished rollout alone)."""
    targets = ["gw-jauh-1", "gw-jauh-2", "gw-jauh-3"]
    store = RolloutStore(console.store.engine)
    rid = store.create(
        version="3.2.0",
        release_url="http://127.0.0.1:9/releases/3.2.0",
        targets=targets,
        target={"gateways": targets},
        policy=RolloutPolicy(waves=["100%"], failure_threshold=3),
        who="admin-cli",
    )

    def offline() -> bool:
        got = store.get(rid)["gateways"]
        return all((g["status"], g["reason"]) == ("offline", OFFLINE) for g in got)

    wait_for(offline, 15, what="the worker marking the gateways offline")
    now = time.time()
    with console.store.engine.begin() as conn:
        conn.execute(
            update(rollout_gateways)
            .where(rollout_gateways.c.rollout_id == rid,
                   rollout_gateways.c.gateway_id == targets[2])
            .values(status="failed", reason=DISK_FULL, updated_at=now, finished_at=now)
        )  # fmt: skip
        conn.execute(
            update(rollouts)
            .where(rollouts.c.id == rid)
            .values(status="aborted", reason="failure threshold: 1 failed, limit 1",
                    revision=rollouts.c.revision + 1, updated_at=now, finished_at=now)
        )  # fmt: skip
    return rid, targets


def _shown(b: Browser) -> dict[str, Any]:
    return b.driver.execute_script(REASONS_JS)  # type: ignore[no-any-return]


def test_rollout_reasons_on_the_page_in_both_languages(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    rid, (gw1, gw2, gw3) = _seed_rollout(console)
    b = browsers()
    console.session(b, "staf", f"/console/#/rollouts/{rid}")
    b.wait(lambda _d: (s := _shown(b))["reason"] and len(s["gateways"]) == 3, what="the rollout")
    shown = _shown(b)
    assert shown["reason"] == "batas kegagalan tercapai: 1 gagal, batasnya 1"
    assert shown["reasonTitle"] == "failure threshold: 1 failed, limit 1"  # the server's own
    offline = ["Luring", "luring saat gelombangnya dimulai", OFFLINE]
    assert shown["gateways"][gw1] == shown["gateways"][gw2] == offline
    assert shown["gateways"][gw3] == [
        "Gagal",
        "disk penuh: saat mengunduh, di /var/lib/kendali/update. Sisa 524,3 MB di sana: "
        "kosongkan ruang lalu kirim pembaruan lagi",
        DISK_FULL,
    ]
    console.screenshot(b, "rollout-reasons-id")

    b.click("#lang-switch")
    b.wait(lambda _d: _shown(b)["gateways"].get(gw1, [""])[0] == "Offline", what="English")
    shown = _shown(b)
    assert shown["reason"] == "failure limit reached: 1 failed, limit 1"
    assert shown["gateways"][gw2] == ["Offline", OFFLINE, OFFLINE]
    assert shown["gateways"][gw3][:2] == [
        "Failed",
        "disk full: while downloading, in /var/lib/kendali/update. 524.3 MB free there: free "
        "space and send the update again",
    ]
    console.screenshot(b, "rollout-reasons-en")
    assert not b.unexpected_errors()


FLEET_JS = """
const card = document.querySelector("article.gateway[data-gateway='gw-pasar']");
if (!card) return null;
const yard = card.querySelector("tr[data-camera='cam-yard']");
return {
  problems: [...card.querySelectorAll(":scope > ul.problems li")].map((li) => li.textContent),
  yard: [...yard.querySelectorAll("ul.problems li")].map((li) => li.textContent),
  title: document.querySelector(".fleet h2").textContent,
};
"""


def test_fleet_problems_in_both_languages(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    """cam-yard's stream is down ("timeout") since the package started: the gateway's problem
    list and the camera's row say so in the operator's language, the camera's own word kept."""
    b = browsers()
    console.session(b, "staf", "/console/#/fleet")
    shown = b.wait(lambda d: d.execute_script(FLEET_JS), what="gw-pasar's card")
    assert "kamera cam-yard: video terputus: timeout" in shown["problems"]
    assert shown["yard"] == ["video terputus: timeout"] and shown["title"] == "Perangkat per lokasi"
    b.click("#lang-switch")
    shown = b.wait(
        lambda d: (s := d.execute_script(FLEET_JS)) and s["title"] == "Fleet by site" and s,
        what="the fleet in English",
    )
    assert "camera cam-yard: stream down: timeout" in shown["problems"]
    assert shown["yard"] == ["stream down: timeout"]
    assert not b.unexpected_errors()


def test_camera_page_errors_in_both_languages(
    console: Console, browsers: Callable[..., Browser]
) -> None:
    ptz = {"state": "error", "reason": "cam-gate: http://10.0.0.5/onvif/ptz: no answer in time"}
    events = {"state": "retrying", "retry_in_s": 60.0,
              "reason": "subscription gone: http://10.0.0.5/onvif/events: connection failed "
              "(ConnectionError)"}  # fmt: skip
    b = browsers()
    console.session(b, "staf", "/console/#/fleet")
    send_health(console, ptz, {"cam-gate": events})
    assert figure(b, "cam-gate", "PTZ") == (
        "cam-gate: http://10.0.0.5/onvif/ptz: tidak menjawab tepat waktu"
    )
    assert figure(b, "cam-gate", "Analitik kamera") == (
        "mencoba lagi: langganan hilang: http://10.0.0.5/onvif/events: koneksi gagal "
        "(ConnectionError) · coba lagi dalam 1 mnt"
    )
    console.screenshot(b, "camera-errors-id")
    b.click("#lang-switch")
    assert figure(b, "cam-gate", "PTZ") == "cam-gate: http://10.0.0.5/onvif/ptz: no answer in time"
    assert figure(b, "cam-gate", "Camera analytics") == (
        "retrying: subscription gone: http://10.0.0.5/onvif/events: connection failed "
        "(ConnectionError) · next try in 1 min"
    )
    assert not b.unexpected_errors()
