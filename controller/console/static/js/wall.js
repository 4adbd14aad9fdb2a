// The wall display (kiosk): large type, the fleet counts and the live alert feed, scrolling by
// itself when the feed is longer than the screen, and no controls at all.

import { api } from "./api.js";
import { el, replace } from "./dom.js";
import { wita } from "./format.js";
import { SEVERITIES } from "./alertmodel.js";
import { mountFeed } from "./feed.js";
import { fleetCounts } from "./fleet.js";
import { t } from "./i18n.js";
import { every } from "./poll.js";
import { soundWithoutClick } from "./sound.js";
import { onStatus } from "./stream.js";

const FLEET_REFRESH_MS = 15_000;
const SCROLL_STEP_PX = 1;
const SCROLL_TICK_MS = 40;
const SCROLL_PAUSE_MS = 4000;

function tile(kind, value, labelKey) {
  return el("div", { class: `tile tile-${kind}`, "data-tile": kind },
    el("span", { class: "tile-value" }, value), el("span", { class: "tile-label" }, t(labelKey)));
}

export function mountWall(container) {
  const clock = el("span", { class: "wall-clock" });
  const link = el("span", { class: "stream", role: "status" });
  const fleetTiles = el("div", { class: "tiles fleet-tiles" });
  const alertTiles = el("div", { class: "tiles alert-tiles" });
  const feedBox = el("div", { class: "wall-feed" });
  container.append(el("section", { class: "wall" },
    el("header", { class: "wall-head" }, el("h1", {}, t("wall.title")), link, clock),
    fleetTiles, alertTiles, feedBox));

  const timers = [];
  let stopped = false;
  let pausedUntil = 0;

  const unmountFeed = mountFeed(feedBox, {
    wall: true,
    onChange: (alerts) => {
      // not the ones still shown greyed for a moment after closing
      const open = alerts.visible({ status: "open" }).filter((a) => a.status !== "closed");
      replace(alertTiles, tile("open", String(open.length), "wall.open"),
        SEVERITIES.map((s) => tile(`sev-${s}`, String(open.filter((a) => a.severity === s).length),
          `severity.${s}`)));
    },
  });

  async function loadFleet() {
    try {
      const gateways = await api.get("/gateways");
      if (stopped) return;
      const c = fleetCounts(Array.isArray(gateways) ? gateways : []);
      replace(fleetTiles,
        tile("online", `${c.online}/${c.gateways}`, "wall.gateways"),
        tile("degraded", String(c.degraded), "wall.degraded"),
        tile("offline", String(c.offline), "wall.offline"),
        tile("cameras", `${c.camerasUp}/${c.cameras}`, "wall.cameras"),
        tile("sensors", `${c.sensorsOk}/${c.sensors}`, "wall.sensors"));
    } catch {
      // the counts stay as they were; the feed shows the connection state
    }
  }

  function tickClock() {
    clock.textContent = wita(Date.now() / 1000);
  }

  /** Slow scroll down, a pause at the bottom, back to the top, a pause, again. */
  function scroll() {
    const now = Date.now();
    if (now < pausedUntil) return;
    const max = feedBox.scrollHeight - feedBox.clientHeight;
    if (max <= 0) return;
    if (feedBox.scrollTop >= max - 1) {
      pausedUntil = now + SCROLL_PAUSE_MS;
      window.setTimeout(() => { feedBox.scrollTop = 0; pausedUntil = Date.now() + SCROLL_PAUSE_MS; },
        SCROLL_PAUSE_MS);
      return;
    }
    feedBox.scrollTop += SCROLL_STEP_PX;
  }

  const unwatch = onStatus((status) => {
    link.className = `stream stream-${status}`;
    link.textContent = t(`stream.${status}`);
  });
  soundWithoutClick();
  tickClock();
  pausedUntil = Date.now() + SCROLL_PAUSE_MS;
  timers.push(window.setInterval(tickClock, 1000));
  const fleetPoller = every(FLEET_REFRESH_MS, loadFleet);
  timers.push(window.setInterval(scroll, SCROLL_TICK_MS));
  return () => {
    stopped = true;
    timers.forEach((id) => window.clearInterval(id));
    unwatch();
    fleetPoller.stop();
    unmountFeed();
  };
}
