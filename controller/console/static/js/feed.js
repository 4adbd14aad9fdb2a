// The live alert feed: the list from GET /alerts, then every journal row from the stream applied
// in place, so an acknowledgement made anywhere shows here within the stream's poll interval.

import { api } from "./api.js";
import { AlertSet, SEVERITIES, STATUS_FILTERS, matches, queryFor, typeChoices } from "./alertmodel.js";
import { alertCard } from "./alertcard.js";
import { typeName } from "./alerttext.js";
import { el, reconcile, replace } from "./dom.js";
import { errorText } from "./errors.js";
import { t } from "./i18n.js";
import { canAct } from "./session.js";
import { onAlert } from "./stream.js";

const FRESH_MS = 4000;
const LINGER_MS = 8000; // a closed alert stays visible (greyed) this long before it leaves

/** The alert id a ``#/alerts/<id>`` link names: a number, null without one, 0 when invalid. */
export function focusId(param) {
  if (param === undefined || param === null || param === "") return null;
  return /^[1-9][0-9]{0,14}$/.test(String(param)) ? Number(param) : 0;
}

/** The feed inside ``container``. ``options.wall``: no controls (kiosk); ``options.focus``: the
 *  id from a ``#/alerts/<id>`` link (a notification's), whose alert is scrolled to and marked,
 *  and kept at the top when the filters or the first page leave it out. Returns unmount. */
export function mountFeed(container, options = {}) {
  const wall = Boolean(options.wall);
  const focus = wall ? null : focusId(options.focus);
  let focused = null; // the linked alert as last seen (list, stream, action or its own GET)
  let focusStarted = false;
  const alerts = new AlertSet();
  const filters = { site: "", type: "", severity: "", status: "open" };
  const openComments = new Set();
  const drafts = new Map();
  const fresh = new Set();
  const timers = new Set();
  const comments = new Map(); // alert id -> its comments, while its panel is open
  const cards = new Map(); // alert id -> {state, node}
  const empty = el("li", { class: "empty" }, t("feed.empty"));
  const more = el("button", { type: "button", class: "btn btn-quiet load-more", hidden: true },
    t("feed.more"));
  let nextBefore = null; // the API's cursor for the page after the ones loaded
  let renderQueued = false;
  let pending = null; // stream messages that arrive while the list loads
  let sites = [];

  const list = el("ol", { class: "alert-list", "aria-live": "polite" });
  const count = el("span", { class: "feed-count" });
  const notice = el("div", { class: "notice", role: "status", hidden: true });
  const focusNote = el("div", { class: "notice focus-note", role: "status", hidden: true });
  const toolbar = wall ? null : el("div", { class: "toolbar" });
  container.append(el("section", { class: wall ? "feed feed-wall" : "feed" },
    wall ? null : el("h2", {}, t("feed.title"), " ", count),
    toolbar, notice, focusNote, list, wall ? null : more));
  more.addEventListener("click", loadMore);

  function later(fn, ms) {
    const id = window.setTimeout(() => { timers.delete(id); fn(); }, ms);
    timers.add(id);
  }

  function showError(error) {
    notice.textContent = errorText(error);
    notice.hidden = false;
    later(() => { notice.hidden = true; }, 6000);
  }

  /** The card for one alert, reused while nothing it shows has changed: redrawing every card
   *  for every stream message would cost a busy wall display dearly and take the cursor out
   *  of a comment being typed. */
  function cardFor(alert) {
    const id = alert.id;
    const state = [alert, fresh.has(id), alerts.isLeaving(id), openComments.has(id),
      comments.get(id), id === focus];
    const known = cards.get(id);
    if (known && known.state.every((value, i) => value === state[i])) return known.node;
    const node = alertCard(alert, {
      actions: !wall && canAct(),
      links: !wall,
      commentsOpen: !wall && openComments.has(id),
      focused: id === focus,
      comments: comments.get(id),
      draft: drafts.get(id),
      onAction: (updated) => {
        track(updated);
        if (updated?.id && alerts.upsert(updated)) scheduleRender();
      },
      onError: showError,
      onToggleComments: toggleComments,
      onDraft: (alertId, text) => drafts.set(alertId, text),
      onCommented: loadComments,
    });
    if (fresh.has(id)) node.classList.add("fresh");
    if (alerts.isLeaving(id)) node.classList.add("leaving");
    cards.set(id, { state, node });
    return node;
  }

  /** Keep the newest copy of the linked alert (never an older one). */
  function track(alert) {
    if (!focus || alert?.id !== focus) return;
    if (focused && (focused.updated_at ?? 0) > (alert.updated_at ?? 0)) return;
    focused = alert;
  }

  function render() {
    renderQueued = false;
    const matching = alerts.visible(filters);
    const pinned = focused && !matching.some((a) => a.id === focused.id);
    const items = pinned ? [focused, ...matching] : matching;
    const shown = new Set(items.map((a) => a.id));
    for (const id of cards.keys()) if (!shown.has(id)) cards.delete(id);
    reconcile(list, items.length ? items.map(cardFor) : [empty]);
    count.textContent = t("feed.count", { n: matching.length });
    if (toolbar) renderToolbar();
    options.onChange?.(alerts);
  }

  function showFocusNote(key, linkBack) {
    replace(focusNote, t(key, { id: options.focus }), " ",
      linkBack ? el("a", { href: "#/alerts", class: "focus-all" }, t("alert.focus.all")) : null);
    focusNote.hidden = false;
    focusNote.dataset.focus = key.split(".").pop(); // shown, missing or invalid
  }

  /** The linked alert: from the list when it is there, else its own GET (closed, filtered
   *  out, or past the first page); a 404 is an alert that does not exist or is not this
   *  person's to see, and the API does not say which. Runs once, after the first list has
   *  been applied (a load overtaken by the stream's reload applies nothing, and deciding
   *  from an empty list would pin an alert the list then shows further down). */
  async function focusOn() {
    if (focus === null) return;
    if (!focus) {
      showFocusNote("alert.focus.invalid", true);
      return;
    }
    if (!focused) {
      try {
        track(await api.get(`/alerts/${encodeURIComponent(focus)}`));
      } catch (error) {
        if (error.status === 404) showFocusNote("alert.focus.missing", true);
        else if (error.status !== 401) showError(error);
        return;
      }
    }
    showFocusNote("alert.focus.shown", true);
    render();
    cards.get(focus)?.node.scrollIntoView({ block: "center" });
  }

  /** Many stream messages in one frame make one redraw. */
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    window.requestAnimationFrame(render);
  }

  async function loadComments(id) {
    try {
      const data = await api.get(`/alerts/${encodeURIComponent(id)}/comments`);
      comments.set(id, Array.isArray(data) ? data : data?.items || []);
    } catch (error) {
      if (error.status !== 401) showError(error);
    }
    scheduleRender();
  }

  function toggleComments(id) {
    if (openComments.has(id)) {
      openComments.delete(id);
    } else {
      openComments.add(id);
      loadComments(id);
    }
    scheduleRender();
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
      select("type", [all, ...types.map((x) => [x, typeName(x) ? `${typeName(x)} (${x})` : x])],
        "filter.type"),
      select("severity", [all, ...SEVERITIES.map((s) => [s, t(`severity.${s}`)])], "filter.severity"),
      select("status", STATUS_FILTERS.map((s) => [s, t(`statusfilter.${s}`)]), "filter.status"));
  }

  function apply(message) {
    const alert = message.alert;
    track(alert);
    const outcome = alerts.take(alert, filters);
    if (outcome === "stale" || outcome === "gone") return;
    if (message.action === "raised" || message.action === "reopened") {
      fresh.add(alert.id);
      later(() => { fresh.delete(alert.id); scheduleRender(); }, FRESH_MS);
    }
    if (message.action === "commented" && openComments.has(alert.id)) loadComments(alert.id);
    if (outcome === "leaving") {
      // it was on screen: keep it a moment (greyed) so the change is seen, then let it go
      later(() => { alerts.settle(alert.id, filters); scheduleRender(); }, LINGER_MS);
    }
  }

  let loads = 0;

  /** The list for the current filters; a slower answer to an earlier filter is dropped. */
  async function load() {
    const mine = ++loads;
    pending = pending || [];
    let items = null;
    let next = null;
    try {
      const data = await api.get("/alerts", queryFor(filters));
      items = data?.items || [];
      next = data?.next_before ?? null;
    } catch (error) {
      if (error.status !== 401 && mine === loads) showError(error);
    }
    if (mine !== loads) return;
    if (items) {
      alerts.reset(items);
      track(alerts.get(focus));
      setNext(next);
    }
    const queued = pending;
    pending = null;
    queued.forEach(apply);
    render();
    if (items && !focusStarted) {
      focusStarted = true;
      focusOn();
    }
  }

  function setNext(value) {
    nextBefore = value;
    more.hidden = nextBefore === null;
  }

  /** The next page of older alerts under the same filters, added to the list. */
  async function loadMore() {
    const mine = loads;
    more.disabled = true;
    try {
      const data = await api.get("/alerts", { ...queryFor(filters), before: nextBefore });
      if (mine !== loads) return; // the filters changed meanwhile
      for (const alert of data?.items || []) {
        alerts.upsert(alert);
        track(alert);
      }
      setNext(data?.next_before ?? null);
      scheduleRender();
    } catch (error) {
      if (error.status !== 401) showError(error);
    } finally {
      more.disabled = false;
    }
  }

  const unsubscribe = onAlert((message) => {
    if (message === null) { load(); return; }
    if (pending) { pending.push(message); return; }
    apply(message);
    scheduleRender();
  });

  if (!wall) {
    api.get("/sites").then((data) => { sites = Array.isArray(data) ? data : []; scheduleRender(); })
      .catch(() => {});
  }
  load();

  return () => {
    unsubscribe();
    timers.forEach((id) => window.clearTimeout(id));
    timers.clear();
  };
}
