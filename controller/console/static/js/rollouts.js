// Rollouts: the recent ones with their gateway counts, and one rollout's waves and every gateway's
// status. Operators and admins (the roles the API lets act) get the buttons that apply to each
// rollout's state: pause a running one, resume a paused one, abort either (after a confirmation in
// a dialog). The API decides in the end: a refusal is shown in the operator's language.

import { api } from "./api.js";
import { el, replace, route } from "./dom.js";
import { errorText } from "./errors.js";
import { wita } from "./format.js";
import { t } from "./i18n.js";
import { every } from "./poll.js";
import { gatewayReason, rolloutReason, statusLabel } from "./rollouttext.js";
import { canAct } from "./session.js";

const REFRESH_MS = 5_000;
const GOOD = new Set(["committed", "completed"]);
const BAD = new Set(["failed", "rolled_back", "timed_out", "aborted"]);

/** "ok", "bad" or "state-unknown": the badge class of a rollout or gateway status. */
export function statusClass(status) {
  if (GOOD.has(status)) return "ok";
  if (BAD.has(status)) return "bad";
  return "state-unknown";
}

export { statusLabel }; // where it was first; rollouttext.js owns it now

/** "committed 3, trial 1" from {status: count}, in the table's language, largest first. */
export function countsText(counts) {
  return Object.entries(counts || {})
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([status, n]) => `${statusLabel(status)} ${n}`)
    .join(", ");
}

// What may be done to a rollout in each state (the store's rules; a finished one: nothing).
const ACTIONS = { running: ["pause", "abort"], paused: ["resume", "abort"] };

/** The actions that apply to a rollout in ``status``, in button order. */
export function actionsFor(status) {
  return ACTIONS[status] || [];
}

function badge(status) {
  return el("span", { class: `badge ${statusClass(status)}`, "data-status": status },
    statusLabel(status));
}

/** The buttons for ``r`` (none for a finished rollout or a person who may not act). */
function actionBar(r, onAction) {
  const actions = canAct() ? actionsFor(r.status) : [];
  if (!actions.length) return null;
  return el("span", { class: "rollout-actions", "data-rollout": r.id },
    actions.map((action) => el("button", {
      type: "button",
      class: `btn ${action === "abort" ? "btn-danger" : "btn-quiet"} act-${action}`,
      "data-action": action,
      onclick: () => onAction(r, action),
    }, t(`rollouts.act.${action}`))));
}

function listTable(items, onAction) {
  if (!items.length) return el("p", { class: "empty" }, t("rollouts.empty"));
  const head = ["rollouts.id", "rollouts.version", "rollouts.status", "rollouts.wave",
    "rollouts.gateways", "rollouts.created", "rollouts.by"];
  if (canAct()) head.push("rollouts.actions");
  return el("table", { class: "devices rollouts" },
    el("thead", {}, el("tr", {}, head.map((k) => el("th", {}, t(k))))),
    el("tbody", {}, items.map((r) => el("tr", { "data-rollout": r.id },
      el("td", {}, el("a", { href: route("rollouts", r.id) }, r.id)),
      el("td", {}, r.version),
      el("td", {}, badge(r.status)),
      el("td", {}, t("rollouts.wave.of", { n: r.wave, total: r.bounds?.length ?? 0 })),
      el("td", {}, `${r.total} — ${countsText(r.counts)}`),
      el("td", {}, wita(r.created_at)),
      el("td", { class: "muted" }, r.created_by),
      canAct() ? el("td", {}, actionBar(r, onAction)) : null))));
}

function progressText(gw) {
  return gw.progress === null || gw.progress === undefined ? "" : `${Math.round(gw.progress * 100)} %`;
}

function detail(r, onAction) {
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
      el("td", { class: "muted gateway-reason", title: g.reason || "" },
        gatewayReason(g.reason))))));
  return [
    el("p", {}, el("a", { href: route("rollouts") }, t("rollouts.back"))),
    el("h3", {}, `${r.version} `, badge(r.status), " ",
      el("span", { class: "muted" }, t("rollouts.wave.of", { n: r.wave, total: r.waves?.length ?? 0 }))),
    actionBar(r, onAction),
    r.reason ? el("p", { class: "muted rollout-reason", title: r.reason }, rolloutReason(r.reason))
      : null,
    r.in_window === false && ["running", "paused"].includes(r.status)
      ? el("p", { class: "notice outside-window" }, t("rollouts.outside")) : null,
    waves,
    gateways,
  ];
}

/** The in-page confirmation before an abort: resolves true (abort) or false (cancel, Escape). */
function confirmAbort(section, r) {
  return new Promise((resolve) => {
    let answered = false;
    const dialog = el("dialog", { class: "confirm confirm-abort", "data-rollout": r.id });
    const answer = (yes) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(yes);
    };
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      answer(false);
    });
    dialog.append(
      el("h3", {}, t("rollouts.abort.title", { version: r.version, id: r.id })),
      el("p", {}, t("rollouts.abort.explain")),
      el("div", { class: "confirm-buttons" },
        el("button", { type: "button", class: "btn btn-quiet confirm-no", onclick: () => answer(false) },
          t("rollouts.abort.no")),
        el("button", { type: "button", class: "btn btn-danger confirm-yes", onclick: () => answer(true) },
          t("rollouts.abort.yes"))));
    section.append(dialog);
    dialog.showModal();
    dialog.querySelector(".confirm-no").focus();  // Enter alone must not abort
  });
}

/** An action's refusal as a sentence: a conflict means the rollout moved on meanwhile. */
export function actionError(error, action) {
  if (error?.status === 409 && error.code === "conflict") {
    return t("rollouts.error.conflict", { action: t(`rollouts.act.${action}`) });
  }
  if (error?.status === 409 && error.code === "busy") return t("rollouts.error.busy");
  return errorText(error);
}

export function mountRollouts(container, id) {
  const body = el("div", { class: "rollouts-body" }, el("p", { class: "muted" }, t("loading")));
  // outside the redrawn body, so a refresh does not wipe the outcome of an action
  const message = el("p", { class: "rollout-message", role: "status", "aria-live": "polite",
    hidden: true });
  const section = el("section", { class: "rollouts-page" },
    el("h2", {}, t("rollouts.title")),
    el("p", { class: "muted rollouts-hint" }, t(canAct() ? "rollouts.hint" : "rollouts.readonly")),
    message,
    body);
  container.append(section);
  let stopped = false;
  let generation = 0; // raised by an action: a refresh that began before it is not drawn

  function say(kind, text) {
    message.hidden = false;
    message.className = `rollout-message ${kind === "error" ? "notice bad" : "ok"}`;
    message.dataset.kind = kind;
    replace(message, text);
  }

  async function onAction(r, action) {
    if (action === "abort" && !(await confirmAbort(section, r))) return;
    if (stopped) return;
    section.querySelectorAll(`.rollout-actions[data-rollout="${CSS.escape(r.id)}"] button`)
      .forEach((b) => { b.disabled = true; });
    try {
      const got = await api.post(`/rollouts/${encodeURIComponent(r.id)}/${action}`);
      generation += 1;
      if (stopped) return;
      say("ok", t(`rollouts.done.${action}`, { version: got?.version ?? r.version, id: r.id }));
      if (id && got) replace(body, detail(got, onAction));
    } catch (error) {
      if (stopped || error.status === 401) return;
      generation += 1;
      say("error", actionError(error, action));
    }
    poller.now(); // the state as stored now, also after a refusal (the buttons follow it)
  }

  async function load() {
    const mine = generation;
    try {
      const got = id ? await api.get(`/rollouts/${encodeURIComponent(id)}`)
        : await api.get("/rollouts");
      if (stopped || mine !== generation) return;
      replace(body, id ? detail(got, onAction)
        : listTable(Array.isArray(got?.items) ? got.items : [], onAction));
    } catch (error) {
      if (!stopped && error.status !== 401) replace(body, el("p", { class: "notice" }, errorText(error)));
    }
  }

  const poller = every(REFRESH_MS, load);
  return () => {
    stopped = true;
    poller.stop();
    section.querySelector("dialog.confirm")?.close();
  };
}
