// A camera's latest picture, and a "live refresh" that asks the agent for a new one at most once a
// second — only while this page is shown and visible: a forgotten tab on a 4G gateway must not
// keep pulling JPEGs.

import { api, cameraSnapshotUrl } from "./api.js";
import { el, replace, route } from "./dom.js";
import { errorText } from "./errors.js";
import { age, wita } from "./format.js";
import { t } from "./i18n.js";
import { cameraBadge } from "./fleet.js";
import { cameraError, cameraProblemText, eventsReason } from "./fleettext.js";
import { canAct } from "./session.js";

export const MIN_INTERVAL_MS = 1100; // the API allows one a second; the margin absorbs timer jitter
// Reload the stored picture this long after a request: the agent's answer takes a round trip
// over the gateway's link. Live refresh asks again soon anyway; a single request waits longer.
const AFTER_LIVE_REQUEST_MS = [400, 1200];
const AFTER_SINGLE_REQUEST_MS = [400, 1200, 3000, 6000];

/** Decides when the next snapshot request may go: pure, so the rule is easy to read and test. */
export function nextRequestDelay(nowMs, lastRequestMs, visible, live) {
  if (!live || !visible) return null;
  if (lastRequestMs === null) return 0;
  return Math.max(0, lastRequestMs + MIN_INTERVAL_MS - nowMs);
}

export function mountCamera(container, [gw, cam]) {
  const title = el("h2", {}, t("camera.title", { cam, gw }));
  const info = el("div", { class: "camera-info" });
  const picture = el("img", { class: "camera-image", alt: t("camera.title", { cam, gw }) });
  const missing = el("p", { class: "muted camera-missing", hidden: true }, t("camera.nosnapshot"));
  const caption = el("p", { class: "camera-caption muted" });
  const notice = el("p", { class: "notice", role: "status", hidden: true });
  const page = el("section", { class: "camera-page", "data-live": "off", "data-requests": "0" },
    el("a", { href: route("fleet"), class: "back" }, t("camera.back")), title, info, notice);
  container.append(page);

  let live = false;
  let lastRequest = null;
  let timer = null;
  let inFlight = false;
  let stopped = false;
  let requests = 0;
  const reloads = new Set();

  function reload() {
    const next = new Image();
    next.addEventListener("load", () => {
      if (stopped) return;
      picture.src = next.src;
      picture.hidden = false;
      missing.hidden = true;
      caption.textContent = t("camera.taken", { time: wita(Date.now() / 1000) });
    });
    next.addEventListener("error", () => {
      if (stopped || picture.getAttribute("src")) return;
      picture.hidden = true;
      missing.hidden = false;
    });
    next.src = cameraSnapshotUrl(gw, cam, Date.now());
  }

  function showError(error) {
    notice.textContent = errorText(error);
    notice.hidden = false;
  }

  async function requestSnapshot() {
    if (inFlight || stopped) return;
    inFlight = true;
    lastRequest = Date.now();
    requests += 1;
    page.dataset.requests = String(requests);
    try {
      await api.post(`/cameras/${encodeURIComponent(gw)}/${encodeURIComponent(cam)}/snapshot`, {});
      notice.hidden = true;
      for (const ms of live ? AFTER_LIVE_REQUEST_MS : AFTER_SINGLE_REQUEST_MS) {
        const id = window.setTimeout(() => { reloads.delete(id); reload(); }, ms);
        reloads.add(id);
      }
    } catch (error) {
      if (error.status !== 429) showError(error);
    } finally {
      inFlight = false;
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = null;
    const visible = document.visibilityState === "visible";
    page.dataset.live = live ? (visible ? "on" : "paused") : "off";
    liveState.textContent = live && !visible ? t("camera.paused") : "";
    const delay = nextRequestDelay(Date.now(), lastRequest, visible, live && !stopped);
    if (delay === null) return;
    timer = window.setTimeout(async () => {
      await requestSnapshot();
      schedule();
    }, delay);
  }

  const liveBox = el("input", { type: "checkbox", class: "live-toggle", name: "live" });
  liveBox.addEventListener("change", () => { live = liveBox.checked; schedule(); });
  const liveState = el("span", { class: "muted live-state" });
  const controls = canAct() ? el("div", { class: "toolbar camera-controls" },
    el("button", { type: "button", class: "btn snapshot-now",
      onclick: () => { if (nextRequestDelay(Date.now(), lastRequest, true, true) === 0) requestSnapshot(); } },
    t("camera.snapshot")),
    el("label", { class: "toggle" }, liveBox, el("span", {}, t("camera.live"))),
    liveState) : null;
  page.append(controls || "", el("figure", { class: "camera-figure" }, picture, missing, caption));

  const onVisibility = () => schedule();
  document.addEventListener("visibilitychange", onVisibility);
  window.addEventListener("pagehide", stop);

  api.get(`/cameras/${encodeURIComponent(gw)}/${encodeURIComponent(cam)}`).then((c) => {
    if (stopped || !c) return;
    const pair = (key, value) => el("div", { class: "pair" }, el("dt", {}, t(key)), el("dd", {}, value));
    replace(info, el("dl", { class: "figures" },
      pair("fleet.state", cameraBadge(c)),
      pair("fleet.camera.lastframe", age(c.last_frame_age_s)),
      pair("fleet.model", [c.manufacturer, c.model, c.firmware].filter(Boolean).join(" ") || t("none")),
      c.ptz && (c.ptz.state !== "unsupported" || c.ptz.moves)
        ? pair("camera.ptz", ptzText(c.ptz)) : null,
      c.events ? pair("camera.events", eventsText(c.events)) : null,
      c.problems?.length ? pair("fleet.problems", c.problems.map(cameraProblemText).join("; "))
        : null));
  }).catch((error) => { if (error.status !== 401) showError(error); });
  reload();

  function ptzText(p) {
    if (p.state === "error") return p.reason ? cameraError(p.reason) : t("camera.ptz.error");
    const named = (token) => p.presets?.find((x) => x.token === token)?.name || token;
    const where = p.moving ? t("camera.ptz.moving")
      : p.preset ? named(p.preset) : t("camera.ptz.between");
    return t("camera.ptz.summary", { where, moves: p.moves ?? 0 });
  }

  function eventsText(e) {
    const known = ["starting", "subscribed", "refused", "unsupported", "auth_failed", "retrying",
      "stopped"];
    let text = known.includes(e.state) ? t(`camera.events.${e.state}`) : e.state || "?";
    if (e.mode) text += ` (${e.mode === "push" ? "push" : "PullPoint"})`;
    if (e.state === "subscribed") return t("camera.events.count", { text, n: e.notifications ?? 0 });
    if (e.reason) text += `: ${eventsReason(e.reason)}`;
    if (e.retry_in_s != null) {
      text += ` · ${t("camera.events.retry", { n: Math.max(1, Math.round(e.retry_in_s / 60)) })}`;
    }
    return text;
  }

  function stop() {
    stopped = true;
    live = false;
    window.clearTimeout(timer);
    reloads.forEach((id) => window.clearTimeout(id));
    document.removeEventListener("visibilitychange", onVisibility);
    window.removeEventListener("pagehide", stop);
  }
  return stop;
}
