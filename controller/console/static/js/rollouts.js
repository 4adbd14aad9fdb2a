// Rollouts, read-only: the recent ones with their gateway counts, and one rollout's waves and
// every gateway's status. Pausing, resuming and aborting stay with `kendali rollout` and the API.

import { api } from "./api.js";
import { el, replace, route } from "./dom.js";
import { errorText } from "./errors.js";
import { wita } from "./format.js";
import { has, t } from "./i18n.js";
import { every } from "./poll.js";

const REFRESH_MS = 5_000;
const GOOD = new Set(["committed", "completed"]);
const BAD = new Set(["failed", "rolled_back", "timed_out", "aborted"]);

/** "ok", "bad" or "state-unknown": the badge class of a rollout or gateway status. */
export function statusClass(status) {
  if (GOOD.has(status)) return "ok";
  if (BAD.has(status)) return "bad";
  return "state-unknown";
}

/** The label of a status in the current language (a status added later shows as it is). */
export function statusLabel(status) {
  const key = `rollout.status.${status}`;
  return has(key) ? t(key) : status;
}

/** "committed 3, trial 1" from {status: count}, in the table's language, largest first. */
export function countsText(counts) {
  return Object.entries(counts || {})
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([status, n]) => `${statusLabel(status)} ${n}`)
    .join(", ");
}

function badge(status) {
  return el("span", { class: `badge ${statusClass(status)}`, "data-status": status },
    statusLabel(status));
}

function listTable(items) {
  if (!items.length) return el("p", { class: "empty" }, t("rollouts.empty"));
  const head = ["rollouts.id", "rollouts.version", "rollouts.status", "rollouts.wave",
    "rollouts.gateways", "rollouts.created", "rollouts.by"];
  return el("table", { class: "devices rollouts" },
    el("thead", {}, el("tr", {}, head.map((k) => el("th", {}, t(k))))),
    el("tbody", {}, items.map((r) => el("tr", { "data-rollout": r.id },
      el("td", {}, el("a", { href: route("rollouts", r.id) }, r.id)),
      el("td", {}, r.version),
      el("td", {}, badge(r.status)),
      el("td", {}, t("rollouts.wave.of", { n: r.wave, total: r.bounds?.length ?? 0 })),
      el("td", {}, `${r.total} — ${countsText(r.counts)}`),
      el("td", {}, wita(r.created_at)),
      el("td", { class: "muted" }, r.created_by)))));
}

function progressText(gw) {
  return gw.progress === null || gw.progress === undefined ? "" : `${Math.round(gw.progress * 100)} %`;
}

function detail(r) {
  const waves = el("table", { class: "devices waves" },
    el("caption", {}, t("rollouts.waves")),
    el("thead", {}, el("tr", {}, ["rollouts.wave", "rollouts.size", "rollouts.needed",
      "rollouts.gateways"].map((k) => el("th", {}, t(k))))),
    el("tbody", {}, (r.waves || []).map((w) => el("tr", { "data-wave": w.wave },
      el("td", {}, String(w.wave)), el("td", {}, String(w.size)), el("td", {}, String(w.needed)),
      el("td", {}, countsText(w.counts))))));
  const gateways = el("table", { class: "devices rollout-gateways" },
    el("caption", {}, t("rollouts.gateways")),
    el("thead", {}, el("tr", {}, ["rollouts.gateway", "rollouts.wave", "rollouts.status",
      "rollouts.progress", "rollouts.started", "rollouts.reason"].map((k) => el("th", {}, t(k))))),
    el("tbody", {}, (r.gateways || []).map((g) => el("tr", { "data-gateway": g.gateway_id },
      el("td", {}, g.gateway_id), el("td", {}, String(g.wave)), el("td", {}, badge(g.status)),
      el("td", {}, progressText(g)), el("td", {}, g.started_at ? wita(g.started_at) : ""),
      el("td", { class: "muted" }, g.reason || "")))));
  return [
    el("p", {}, el("a", { href: route("rollouts") }, t("rollouts.back"))),
    el("h3", {}, `${r.version} `, badge(r.status), " ",
      el("span", { class: "muted" }, t("rollouts.wave.of", { n: r.wave, total: r.waves?.length ?? 0 }))),
    r.reason ? el("p", { class: "muted rollout-reason" }, r.reason) : null,
    r.in_window === false && ["running", "paused"].includes(r.status)
      ? el("p", { class: "notice outside-window" }, t("rollouts.outside")) : null,
    waves,
    gateways,
  ];
}

export function mountRollouts(container, id) {
  const body = el("div", { class: "rollouts-body" }, el("p", { class: "muted" }, t("loading")));
  container.append(el("section", { class: "rollouts-page" },
    el("h2", {}, t("rollouts.title")),
    el("p", { class: "muted" }, t("rollouts.readonly")),
    body));
  let stopped = false;

  async function load() {
    try {
      const got = id ? await api.get(`/rollouts/${encodeURIComponent(id)}`)
        : await api.get("/rollouts");
      if (stopped) return;
      replace(body, id ? detail(got) : listTable(Array.isArray(got?.items) ? got.items : []));
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
