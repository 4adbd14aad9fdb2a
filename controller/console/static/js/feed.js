// The live alert feed: the list from GET /alerts, then every journal row from the stream applied
// in place, so an acknowledgement made anywhere shows here within the stream's poll interval.

import { api } from "./api.js";
import { AlertSet, SEVERITIES, STATUS_FILTERS, matches, queryFor, typeChoices } from "./alertmodel.js";
import { alertCard } from "./alertcard.js";
import { el, replace } from "./dom.js";
import { errorText } from "./errors.js";
import { t } from "./i18n.js";
import { canAct } from "./session.js";
import { onAlert } from "./stream.js";

const FRESH_MS = 4000;
const LINGER_MS = 8000; // a closed alert stays visible (greyed) this long before it leaves

/** The feed inside ``container``. ``options.wall``: no controls (kiosk). Returns unmount. */
export function mountFeed(container, options = {}) {
  const wall = Boolean(options.wall);
  const alerts = new AlertSet();
  const filters = { site: "", type: "", severity: "", status: "open" };
  const openComments = new Set();
  const drafts = new Map();
  const fresh = new Set();
  const timers = new Set();
  let pending = null; // stream messages that arrive while the list loads
  let sites = [];

  const list = el("ol", { class: "alert-list", "aria-live": "polite" });
  const count = el("span", { class: "feed-count" });
  const notice = el("div", { class: "notice", role: "status", hidden: true });
  const toolbar = wall ? null : el("div", { class: "toolbar" });
  container.append(el("section", { class: wall ? "feed feed-wall" : "feed" },
    wall ? null : el("h2", {}, t("feed.title"), " ", count),
    toolbar, notice, list));

  function later(fn, ms) {
    const id = window.setTimeout(() => { timers.delete(id); fn(); }, ms);
    timers.add(id);
  }

  function showError(error) {
    notice.textContent = errorText(error);
    notice.hidden = false;
    later(() => { notice.hidden = true; }, 6000);
  }

  function render() {
    const items = alerts.visible(filters);
    const cards = items.map((alert) => {
      const card = alertCard(alert, {
        actions: !wall && canAct(),
        links: !wall,
        commentsOpen: !wall && openComments.has(alert.id),
        draft: drafts.get(alert.id),
        onAction: (updated) => { if (updated?.id) { alerts.upsert(updated); render(); } },
        onError: showError,
        onToggleComments: (id) => {
          if (openComments.has(id)) openComments.delete(id); else openComments.add(id);
          render();
        },
        onDraft: (id, text) => drafts.set(id, text),
        onCommented: () => render(),
      });
      if (fresh.has(alert.id)) card.classList.add("fresh");
      if (alerts.isLeaving(alert.id)) card.classList.add("leaving");
      return card;
    });
    replace(list, cards.length ? cards : el("li", { class: "empty" }, t("feed.empty")));
    count.textContent = t("feed.count", { n: items.length });
    if (toolbar) renderToolbar();
    options.onChange?.(alerts);
  }

  function select(name, choices, labelKey) {
    const node = el("select", { name, class: `filter-${name}`, "aria-label": t(labelKey) },
      choices.map(([value, text]) => el("option", { value, selected: filters[name] === value }, text)));
    node.addEventListener("change", () => { filters[name] = node.value; load(); });
    return el("label", { class: "filter" }, el("span", {}, t(labelKey)), node);
  }

  let toolbarKey = "";

  function renderToolbar() {
    const all = ["", t("filter.all")];
    const siteNames = new Set(sites.map((s) => s.site).filter(Boolean));
    if (filters.site) siteNames.add(filters.site);
    const types = typeChoices(alerts.types());
    if (filters.type && !types.includes(filters.type)) types.push(filters.type);
    const key = JSON.stringify([[...siteNames], types, filters]);
    if (key === toolbarKey) return; // rebuilding would close a dropdown a person has open
    toolbarKey = key;
    replace(toolbar,
      select("site", [all, ...[...siteNames].sort().map((s) => [s, s])], "filter.site"),
      select("type", [all, ...types.map((x) => [x, x])], "filter.type"),
      select("severity", [all, ...SEVERITIES.map((s) => [s, t(`severity.${s}`)])], "filter.severity"),
      select("status", STATUS_FILTERS.map((s) => [s, t(`statusfilter.${s}`)]), "filter.status"));
  }

  function apply(message) {
    const alert = message.alert;
    if (!alerts.upsert(alert)) return;
    if (message.action === "raised" || message.action === "reopened") {
      fresh.add(alert.id);
      later(() => { fresh.delete(alert.id); render(); }, FRESH_MS);
    }
    if (!matches(alert, filters) && alerts.showBriefly(alert.id)) {
      // keep it on screen a moment (greyed) so the change is seen, then let it go
      later(() => { alerts.settle(alert.id, filters); render(); }, LINGER_MS);
    }
  }

  async function load() {
    pending = [];
    try {
      const data = await api.get("/alerts", queryFor(filters));
      alerts.reset(data?.items || []);
    } catch (error) {
      if (error.status !== 401) showError(error);
    }
    const queued = pending;
    pending = null;
    queued.forEach(apply);
    render();
  }

  const unsubscribe = onAlert((message) => {
    if (message === null) { load(); return; }
    if (pending) { pending.push(message); return; }
    apply(message);
    render();
  });

  if (!wall) {
    api.get("/sites").then((data) => { sites = Array.isArray(data) ? data : []; render(); })
      .catch(() => {});
  }
  load();

  return () => {
    unsubscribe();
    timers.forEach((id) => window.clearTimeout(id));
    timers.clear();
  };
}
