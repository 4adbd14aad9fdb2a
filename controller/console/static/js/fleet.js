// The fleet by site: each gateway with its state, a degraded marker and its problems, last
// figures greyed when stale, and its cameras and sensors with their health and last seen.

import { api } from "./api.js";
import { el, replace, route } from "./dom.js";
import { age, ageSince, number, percent, wita } from "./format.js";
import { errorText } from "./errors.js";
import { levelName, reasonText } from "./alerttext.js";
import {
  cameraProblemText, problemText, sensorProblemText, sensorStateText, warningText,
} from "./fleettext.js";
import { t } from "./i18n.js";
import { every } from "./poll.js";

const REFRESH_MS = 10_000;

/** [[site, gateways]] by site name, "no site" last; ``sites`` (GET /sites) adds the sites
 *  whose gateways this person may not see or that have none yet, so every site is listed. */
export function groupBySite(gateways, sites = []) {
  const groups = new Map(sites.filter((s) => s.site).map((s) => [s.site, []]));
  for (const gw of gateways) {
    const site = gw.site || "";
    if (!groups.has(site)) groups.set(site, []);
    groups.get(site).push(gw);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)))
    .map(([site, list]) => [site, list.sort((x, y) => x.id.localeCompare(y.id))]);
}

function stateBadge(gw) {
  const state = ["online", "offline"].includes(gw.state) ? gw.state : "unknown";
  return el("span", { class: `badge state-${state}`, title: reasonText(gw.state_reason) },
    t(`fleet.state.${state}`));
}

/** A list of problems (or warnings) the controller wrote, each said by ``say``: a gateway's
 *  own and its items' are translated where the wording is known, others shown as written. */
function problems(list, kind = "problems", say = problemText) {
  if (!list?.length) return null;
  return el("ul", { class: kind, "aria-label": t(`fleet.${kind}`) },
    list.map((p) => el("li", {}, say(p))));
}

function figures(gw) {
  const row = (key, value) => el("div", { class: "pair" }, el("dt", {}, t(key)), el("dd", {}, value));
  return el("dl", { class: gw.stale ? "figures stale" : "figures",
    title: gw.stale ? t("fleet.stale") : "" },
  row("fleet.cpu", percent(gw.cpu_percent)),
  row("fleet.memory", percent(gw.memory_percent)),
  row("fleet.disk", percent(gw.disk_percent)),
  row("fleet.temperature", gw.temperature_c === null || gw.temperature_c === undefined
    ? t("none") : `${number(gw.temperature_c, 1)} °C`),
  row("fleet.agent", gw.agent_version || t("none")),
  row("fleet.config", gw.config_version ?? t("none")));
}

/** "up", "down", or "unknown" before the agent has reported the camera. */
export function cameraState(cam) {
  if (cam.up === null || cam.up === undefined) return "unknown";
  return cam.up ? "up" : "down";
}

export function cameraBadge(cam) {
  const state = cameraState(cam);
  const [cls, key] = { up: ["ok", "fleet.camera.up"], down: ["bad", "fleet.camera.down"],
    unknown: ["state-unknown", "fleet.state.unknown"] }[state];
  return el("span", { class: `badge ${cls}` }, t(key));
}

function cameraTable(gw) {
  if (!gw.cameras?.length) return el("p", { class: "muted" }, t("fleet.nocameras"));
  return el("table", { class: "devices cameras" },
    el("caption", {}, t("fleet.cameras")),
    el("tbody", {}, gw.cameras.map((cam) => el("tr", {
      class: cameraState(cam), "data-camera": cam.id },
    el("th", {}, el("a", { href: route("camera", gw.id, cam.id) }, cam.name || cam.id)),
    el("td", {}, cameraBadge(cam)),
    el("td", { title: t("fleet.camera.lastframe") }, age(cam.last_frame_age_s)),
    el("td", { class: "muted model" },
      [cam.manufacturer, cam.model, cam.firmware].filter(Boolean).join(" ")),
    el("td", {}, problems(cam.problems, "problems", cameraProblemText))))));
}

function sensorTable(gw) {
  if (!gw.sensors?.length) return el("p", { class: "muted" }, t("fleet.nosensors"));
  return el("table", { class: "devices sensors" },
    el("caption", {}, t("fleet.sensors")),
    el("tbody", {}, gw.sensors.map((s) => {
      const bad = sensorFailing(s);
      return el("tr", { class: bad ? "down" : "up", "data-sensor": s.id },
        el("th", {}, el("a", { href: route("sensor", gw.id, s.id) }, s.id)),
        el("td", {}, el("span", { class: `badge ${bad ? "bad" : "ok"}`,
          title: (s.problems || []).map(sensorProblemText).join("; ") }, sensorState(s.state))),
        el("td", { title: t("fleet.sensor.lastreading") }, age(s.last_reading_age_s)),
        el("td", { class: "muted" }, s.profile || ""),
        el("td", {}, s.active?.length
          ? el("span", { class: "badge level", title: t("fleet.sensor.active") },
            s.active.map(levelName).join(", "))
          : null, problems(s.problems, "problems", sensorProblemText)));
    })));
}

export function gatewayCard(gw) {
  const classes = ["gateway", `state-${gw.state || "unknown"}`];
  if (gw.degraded) classes.push("degraded");
  if (gw.stale) classes.push("stale");
  return el("article", { class: classes.join(" "), "data-gateway": gw.id },
    el("header", {},
      el("h4", {}, gw.id),
      stateBadge(gw),
      gw.degraded ? el("span", { class: "badge degraded-badge" }, t("fleet.degraded")) : null,
      el("span", { class: "last-seen", title: wita(gw.last_seen) },
        `${t("fleet.lastseen")}: ${ageSince(gw.last_seen)}`)),
    problems(gw.problems),
    problems(gw.warnings, "warnings", warningText),
    figures(gw),
    cameraTable(gw),
    sensorTable(gw));
}

export function mountFleet(container) {
  const body = el("div", { class: "fleet-body" }, el("p", { class: "muted" }, t("loading")));
  container.append(el("section", { class: "fleet" }, el("h2", {}, t("fleet.title")), body));
  let stopped = false;

  async function load() {
    try {
      const [gateways, sites] = await Promise.all([api.get("/gateways"), api.get("/sites")]);
      if (stopped) return;
      const asList = (x) => (Array.isArray(x) ? x : []);
      const groups = groupBySite(asList(gateways), asList(sites));
      replace(body, groups.length ? groups.map(([site, list]) =>
        el("section", { class: "site", "data-site": site },
          el("h3", {}, site || t("fleet.nosite"), " ",
            el("span", { class: "muted" }, t("fleet.gateway.count", { n: list.length }))),
          list.length ? el("div", { class: "gateway-grid" }, list.map(gatewayCard))
            : el("p", { class: "muted" }, t("fleet.empty"))))
        : el("p", { class: "empty" }, t("fleet.empty")));
    } catch (error) {
      if (!stopped && error.status !== 401) replace(body, el("p", { class: "notice" }, errorText(error)));
    }
  }

  const poller = every(REFRESH_MS, load);
  return () => {
    stopped = true;
    poller.stop();
  };
}

/** Whether a sensor fails: the controller's judgement (its problems: a worker not running,
 *  silent, failing most polls), not a second reading of the raw state here. */
export function sensorFailing(sensor) {
  return Boolean(sensor.problems?.length);
}

/** The agent's sensor worker state in the operator's language (raw when unknown). */
export function sensorState(state) {
  return state ? sensorStateText(state) : t("none");
}

/** Counts for the wall display. */
export function fleetCounts(gateways) {
  const counts = { online: 0, offline: 0, degraded: 0, gateways: gateways.length,
    camerasUp: 0, cameras: 0, sensorsOk: 0, sensors: 0 };
  for (const gw of gateways) {
    if (gw.state === "online") counts.online += 1; else counts.offline += 1;
    if (gw.degraded) counts.degraded += 1;
    for (const cam of gw.cameras || []) {
      counts.cameras += 1;
      if (cam.up === true) counts.camerasUp += 1;
    }
    for (const s of gw.sensors || []) {
      counts.sensors += 1;
      if (!sensorFailing(s)) counts.sensorsOk += 1;
    }
  }
  return counts;
}
