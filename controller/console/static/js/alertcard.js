// One alert as a card: severity colour, what, where, when (WITA), status, count, thumbnail, and
// the operator's actions. Only text nodes carry device data.

import { alertTitle, typeName } from "./alerttext.js";
import { api, snapshotUrl } from "./api.js";
import { el, route } from "./dom.js";
import { wita } from "./format.js";
import { has, t } from "./i18n.js";
import { showPicture } from "./lightbox.js";

function label(prefix, value) {
  return has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value);
}

/** The device as a link to its page when it is a camera or a sensor. */
function deviceLink(alert, links) {
  const [gw, item] = String(alert.device || "").split("/", 2);
  if (!links) return el("span", {}, alert.device || alert.gateway_id || t("none"));
  if (item && alert.device_kind === "camera") return el("a", { href: route("camera", gw, item) }, alert.device);
  if (item && alert.device_kind === "sensor") return el("a", { href: route("sensor", gw, item) }, alert.device);
  return el("span", {}, alert.device || alert.gateway_id || t("none"));
}

function thumbnail(alert, zoom) {
  if (alert.snapshot_id === null || alert.snapshot_id === undefined) {
    return el("div", { class: "thumb thumb-none", "aria-hidden": "true" });
  }
  const src = snapshotUrl(alert.snapshot_id);
  const caption = t("alert.snapshot", { device: alert.device });
  if (!zoom) {
    return el("div", { class: "thumb" }, el("img", { src, alt: caption, class: "thumb-image" }));
  }
  return el("button", { type: "button", class: "thumb", title: caption,
    onclick: () => showPicture(src, `${caption} — ${wita(alert.last_at)}`) },
    el("img", { src, alt: caption, loading: "lazy", class: "thumb-image" }));
}

/** The type by name ("Banjir") with the raw type small beside it (filters and the API use it);
 *  a type without a name shows only the raw one. */
function typeCell(alert) {
  const name = typeName(alert.type);
  const raw = el("code", { class: "type-raw" }, alert.type);
  return el("dd", { class: "alert-type", title: alert.type },
    name ? [el("span", { class: "type-name" }, name), " ", raw] : raw);
}

function statusLine(alert) {
  const parts = [el("span", { class: "status-label" }, label("status", alert.status))];
  if (alert.acked_by) parts.push(el("span", {}, t("alert.acked_by", { who: alert.acked_by })));
  if (alert.cleared_by) parts.push(el("span", {}, t("alert.cleared_by", { who: alert.cleared_by })));
  if (alert.escalation > 0) {
    parts.push(el("span", { class: "escalated" }, t("alert.escalated", { n: alert.escalation })));
  }
  if (alert.flapping) parts.push(el("span", { class: "flapping" }, t("alert.flapping")));
  return el("div", { class: "alert-status" }, parts);
}

/** ``options``: {actions: bool, links: bool (device links and picture zoom; false on the wall),
 *  focused: bool (the alert a ``#/alerts/<id>`` link named),
 *  onAction(alert), onError(error), commentsOpen: bool, comments: list | undefined (loading),
 *  onToggleComments(id), draft, onDraft(id, text), onCommented(id)} */
export function alertCard(alert, options = {}) {
  const card = el("li", {
    class: `alert sev-${alert.severity} st-${alert.status}${options.focused ? " focused" : ""}`,
    "data-alert-id": alert.id,
    "data-status": alert.status,
    "data-severity": alert.severity,
    "data-type": alert.type,
    "data-device": alert.device || alert.gateway_id || "",
  },
  el("div", { class: "sevbar", "aria-hidden": "true" }),
  thumbnail(alert, options.links !== false),
  el("div", { class: "alert-body" },
    el("div", { class: "alert-head" },
      el("span", { class: "sev-badge" }, label("severity", alert.severity)),
      options.focused ? el("span", { class: "focus-badge" }, t("alert.focused")) : null,
      el("span", { class: "alert-title" }, alertTitle(alert)),
      alert.count > 1
        ? el("span", { class: "alert-count", title: t("alert.count.title", { n: alert.count }) },
          t("alert.count", { n: alert.count }))
        : null),
    el("dl", { class: "alert-meta" },
      el("dt", {}, t("alert.type")), typeCell(alert),
      el("dt", {}, t("alert.site")), el("dd", { class: "alert-site" }, alert.site || t("none")),
      el("dt", {}, t("alert.device")), el("dd", { class: "alert-device" }, deviceLink(alert, options.links !== false)),
      el("dt", {}, t("alert.time")), el("dd", { class: "alert-time", title: `${t("alert.first")}: ${wita(alert.first_at)}` },
        wita(alert.last_at))),
    statusLine(alert),
    options.actions ? actions(alert, options) : null,
    options.commentsOpen ? comments(alert, options) : null));
  return card;
}

function actions(alert, options) {
  const act = (path) => async (event) => {
    event.currentTarget.disabled = true;
    try {
      options.onAction?.(await api.post(`/alerts/${encodeURIComponent(alert.id)}/${path}`, {}));
    } catch (error) {
      options.onError?.(error);
    }
  };
  const canAck = alert.status === "active_unack" || alert.status === "cleared_unack";
  const canClear = alert.status === "active_unack" || alert.status === "active_ack";
  return el("div", { class: "alert-actions" },
    canAck ? el("button", { type: "button", class: "btn act-ack", onclick: act("ack") }, t("alert.ack")) : null,
    canClear ? el("button", { type: "button", class: "btn act-clear", onclick: act("clear") }, t("alert.clear")) : null,
    el("button", { type: "button", class: "btn btn-quiet act-comment",
      "aria-pressed": options.commentsOpen ? "true" : "false",
      onclick: () => options.onToggleComments?.(alert.id) }, t("alert.comment")));
}

/** The comment panel: the list the feed loaded (``options.comments``) and a form. */
function comments(alert, options) {
  const items = options.comments;
  const list = el("ul", { class: "comment-list" },
    items === undefined ? el("li", { class: "muted" }, t("loading"))
      : items.length ? items.map(commentItem)
        : el("li", { class: "muted" }, t("alert.comment.none")));
  const input = el("textarea", { class: "comment-input", rows: 2, maxlength: 2000,
    placeholder: t("alert.comment.placeholder"), "aria-label": t("alert.comment.placeholder") });
  input.value = options.draft || "";
  input.addEventListener("input", () => options.onDraft?.(alert.id, input.value));
  const send = el("button", { type: "submit", class: "btn act-comment-send" }, t("alert.comment.send"));
  const form = el("form", { class: "comment-form" }, input, send);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    try {
      await api.post(`/alerts/${encodeURIComponent(alert.id)}/comments`, { text });
      input.value = "";
      options.onDraft?.(alert.id, "");
      options.onCommented?.(alert.id);
    } catch (error) {
      options.onError?.(error);
    } finally {
      send.disabled = false;
    }
  });
  return el("div", { class: "comments" }, el("h4", {}, t("alert.comments")), list,
    options.actions ? form : null);
}

function commentItem(comment) {
  return el("li", { class: "comment" },
    el("span", { class: "comment-who" }, comment.who), " ",
    el("span", { class: "comment-at" }, wita(comment.at)),
    el("p", { class: "comment-text" }, comment.text));
}
