// A sensor's recent readings as a chart per measured resource, with the Siaga levels from the
// gateway's effective configuration drawn on it.

import { api } from "./api.js";
import { el, replace, route } from "./dom.js";
import { errorText } from "./errors.js";
import { number, wita } from "./format.js";
import { has, language, t } from "./i18n.js";
import { levelName } from "./alerttext.js";
import { drawChart } from "./chart.js";
import { every } from "./poll.js";

const RANGES = { "1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600 };
const REFRESH_MS = 15_000;

/** A measured resource's name in the operator's language ("level": "Tinggi muka air"); a
 *  resource we have no name for as the sensor profile calls it. */
export function resourceName(resource) {
  const key = `resource.${resource}`;
  return has(key) ? t(key) : resource;
}

/** Numeric readings by resource: {resource: {unit, points: [{ts, value}]}}. */
export function seriesByResource(readings) {
  const out = new Map();
  for (const r of readings) {
    if (typeof r.value !== "number" || !Number.isFinite(r.value)) continue;
    if (!out.has(r.resource)) out.set(r.resource, { unit: r.unit || "", points: [] });
    out.get(r.resource).points.push({ ts: r.ts, value: r.value });
  }
  return out;
}

export { levelName }; // one spelling of the Siaga levels, shared with the alert titles

function clock(ts) {
  return new Intl.DateTimeFormat(language() === "id" ? "id-ID" : "en-GB",
    { timeZone: "Asia/Makassar", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .format(new Date(ts * 1000));
}

export function mountSensor(container, [gw, sensor]) {
  let range = "6h";
  let stopped = false;
  let data = { readings: [], levels: [] };
  const charts = el("div", { class: "charts" }, el("p", { class: "muted" }, t("loading")));
  const rangeSelect = el("select", { class: "range", "aria-label": t("sensor.range") },
    Object.keys(RANGES).map((key) => el("option", { value: key, selected: key === range },
      t(`sensor.range.${key}`))));
  rangeSelect.addEventListener("change", () => { range = rangeSelect.value; poller.now(); });
  container.append(el("section", { class: "sensor-page" },
    el("a", { href: route("fleet"), class: "back" }, t("camera.back")),
    el("h2", {}, t("sensor.title", { sensor, gw })),
    el("div", { class: "toolbar" },
      el("label", { class: "filter" }, el("span", {}, t("sensor.range")), rangeSelect)),
    charts));

  function draw() {
    const to = Date.now() / 1000;
    const from = to - RANGES[range];
    const series = seriesByResource(data.readings || []);
    const levels = data.levels || [];
    for (const level of levels) {
      if (!series.has(level.resource)) series.set(level.resource, { unit: "", points: [] });
    }
    if (!series.size) {
      replace(charts, el("p", { class: "empty" }, t("sensor.noreadings")));
      return;
    }
    const figures = [];
    for (const [resource, { unit, points }] of [...series.entries()].sort()) {
      const mine = levels.filter((l) => l.resource === resource && typeof l.value === "number")
        .map((l) => ({ ...l, label: levelName(l.name) }));
      const canvas = el("canvas", { class: "chart", "data-resource": resource,
        "aria-label": `${resource} (${unit})`, role: "img" });
      const last = points.reduce((a, b) => (!a || b.ts > a.ts ? b : a), null);
      figures.push({ canvas, unit, points, levels: mine, from, to, resource, last });
    }
    replace(charts, figures.map((f) => el("figure", { class: "chart-figure" },
      el("h3", {}, resourceName(f.resource),
        resourceName(f.resource) === f.resource ? null
          : el("span", { class: "muted resource-id" }, ` ${f.resource}`)),
      f.canvas,
      el("figcaption", {},
        f.last ? el("p", { class: "latest" }, t("sensor.latest",
          { value: number(f.last.value), unit: f.unit, time: wita(f.last.ts) })) : null,
        f.levels.length ? el("ul", { class: "levels", "aria-label": t("sensor.levels") },
          f.levels.map((l) => el("li", { class: `level sev-${l.severity}` },
            `${l.label}: ${number(l.value)} ${f.unit}`))) : null))));
    for (const f of figures) {
      const drawn = drawChart(f.canvas, { ...f, timeLabel: clock });
      f.canvas.dataset.points = String(drawn.points);
      f.canvas.dataset.levels = f.levels.map((l) => l.name).join("|");
    }
  }

  async function load() {
    try {
      const since = Date.now() / 1000 - RANGES[range];
      data = await api.get(`/sensors/${encodeURIComponent(gw)}/${encodeURIComponent(sensor)}/readings`,
        { since: since.toFixed(0), limit: 5000 });
      if (stopped) return;
      draw();
    } catch (error) {
      if (!stopped && error.status !== 401) replace(charts, el("p", { class: "notice" }, errorText(error)));
    }
  }

  const onResize = () => draw();
  window.addEventListener("resize", onResize);
  const poller = every(REFRESH_MS, load);
  return () => {
    stopped = true;
    poller.stop();
    window.removeEventListener("resize", onResize);
  };
}
