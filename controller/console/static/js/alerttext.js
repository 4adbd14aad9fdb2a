// An alert's title and type in the operator's language. The alert engine writes ``title`` in
// English; the console says the same thing again from the alert's type, device and details
// through the i18n table, and keeps the server's title for types it does not know. Pure
// functions that return plain strings: the card puts them in text nodes, never markup.

import { has, language, t } from "./i18n.js";
import { translated } from "./textmatch.js";

const ROMAN = { i: "I", ii: "II", iii: "III", iv: "IV", 1: "I", 2: "II", 3: "III", 4: "IV" };

/** "siaga_ii" (or "Siaga 2") as people write it, "Siaga II"; other level names as they are. */
export function levelName(name) {
  const match = /^siaga[ _-]?(iv|i{1,3}|[1-4])$/i.exec(String(name).trim());
  return match ? `Siaga ${ROMAN[match[1].toLowerCase()]}` : String(name);
}

function isSiaga(level) {
  return levelName(level).startsWith("Siaga ");
}

/** The measured facts: an edge event keeps them under ``attributes``, a controller rule at the
 *  top of ``details``; the top wins. */
export function facts(alert) {
  const details = alert?.details && typeof alert.details === "object" ? alert.details : {};
  const nested = details.attributes && typeof details.attributes === "object"
    ? details.attributes : {};
  const out = { ...nested };
  for (const [key, value] of Object.entries(details)) if (key !== "attributes") out[key] = value;
  return out;
}

function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/** A number as the language writes it ("216,9" in Indonesian), at most two decimals. */
export function num(value) {
  if (!isNumber(value)) return String(value);
  const locale = language() === "id" ? "id-ID" : "en-GB";
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 2, useGrouping: false })
    .format(value);
}

function quantity(value, unit) {
  return unit ? `${num(value)} ${unit}` : num(value);
}

/** A duration in seconds as the language says it: "45 dtk", "16 mnt". */
export function seconds(value) {
  const s = Math.round(value);
  return s < 120 ? t("unit.seconds", { n: s }) : t("unit.minutes", { n: num(Math.round(s / 6) / 10) });
}

/** The type as a short phrase ("Banjir", "Kamera tertutup"); null for a type we do not know. */
export function typeName(type) {
  const key = `type.${type}`;
  return has(key) ? t(key) : null;
}

/** The label the card shows for the type: its name, or the raw type when it has none. */
export function typeLabel(type) {
  return typeName(type) ?? String(type ?? "");
}

function where(alert) {
  return String(alert.device || alert.gateway_id || "");
}

// Reasons the controller's rules write (controller/alerts/fleet_rules.py; a gateway's from
// controller/fleet/presence.py), matched so the words are ours and a device's own error text
// is kept as it is.
const REASONS = [
  [/^not reporting$/, () => t("reason.not_reporting")],
  [/^(lost|shutdown|expired)$/, (m) => t(`reason.${m[1]}`)], // a gateway's offline reason
  [/^stream down: (.*)$/s, (m) => t("reason.stream_down", { error: m[1] })],
  [/^stream parked: (.*)$/s, (m) => t("reason.stream_parked", { error: m[1] })],
  [/^no frame for (\d+) s$/, (m) => t("reason.no_frame", { age: seconds(Number(m[1])) })],
  [/^state (\S+): (.*)$/s, (m) => t("reason.state", { state: m[1], error: m[2] })],
];

/** A rule's reason in the operator's language; one we do not recognise as the rule wrote it. */
export function reasonText(reason) {
  return translated(REASONS, reason);
}

function withReason(key, alert, f) {
  const base = t(key, { device: where(alert) });
  return f.reason ? `${base} (${reasonText(f.reason)})` : base;
}

function floodTitle(alert, f) {
  const level = f.level ? levelName(f.level) : "";
  const params = { level, device: where(alert) };
  if (!level) return t("title.flood.plain", params);
  if (!isNumber(f.value)) return t("title.flood", params);
  return t("title.flood.value", { ...params, value: quantity(f.value, f.unit) });
}

function motionTitle(alert, f) {
  const zones = Array.isArray(f.zones) ? f.zones.map(String).filter(Boolean) : [];
  if (!zones.length) return t("title.motion", { device: where(alert) });
  return t("title.motion.zones", { device: where(alert), zones: zones.join(", ") });
}

/** A camera analytics rule's title: "Line crossed (MyLineDetector1) at gw/cam". */
function ruleTitle(key) {
  return (alert, f) => {
    const rule = typeof f.rule === "string" ? f.rule.trim() : "";
    return rule ? t(`${key}.rule`, { rule, device: where(alert) }) : t(key, { device: where(alert) });
  };
}

/** Who saw it: the camera's own analytics (``origin`` "camera"), or the edge and the camera
 *  both (``sources`` of a merged motion event); null for the edge alone, the usual case. */
export function originKey(f) {
  if (Array.isArray(f.sources) && new Set(f.sources.map(String)).size > 1) return "title.origin.both";
  return f.origin === "camera" ? "title.origin.camera" : null;
}

function riseTitle(alert, f) {
  const device = where(alert);
  if (!isNumber(f.rise)) return t("title.rise", { device });
  const rise = quantity(f.rise, f.unit);
  if (!isNumber(f.window_s)) return t("title.rise.value", { device, rise });
  return t("title.rise.window", { device, rise, window: seconds(f.window_s) });
}

function thresholdTitle(alert, f) {
  const device = where(alert);
  const what = [f.level ? levelName(f.level) : "", isNumber(f.value) ? quantity(f.value, f.unit) : ""]
    .filter(Boolean).join(" ");
  return what ? t("title.threshold.value", { device, what }) : t("title.at", {
    what: typeLabel(alert.type), device });
}

function resourceTitle(key, unit) {
  return (alert, f) => {
    if (!isNumber(f.value)) return t("title.at", { what: typeLabel(alert.type), device: where(alert) });
    return t(key, { device: where(alert), value: quantity(f.value, unit) });
  };
}

const TITLES = {
  "flood.level": floodTitle,
  motion: motionTitle,
  "camera.line_crossing": ruleTitle("title.line_crossing"),
  "camera.intrusion": ruleTitle("title.intrusion"),
  "sensor.rate_of_rise": riseTitle,
  "sensor.threshold": thresholdTitle,
  "gateway.offline": (a, f) => withReason("title.gateway.offline", a, f),
  "camera.offline": (a, f) => withReason("title.camera.offline", a, f),
  "sensor.failing": (a, f) => withReason("title.sensor.failing", a, f),
  "sensor.silent": (a, f) => (isNumber(f.last_reading_age_s)
    ? t("title.sensor.silent.age", { device: where(a), age: seconds(f.last_reading_age_s) })
    : t("title.at", { what: typeLabel(a.type), device: where(a) })),
  "gateway.disk": resourceTitle("title.gateway.disk", "%"),
  "gateway.memory": resourceTitle("title.gateway.memory", "%"),
  "gateway.temperature": resourceTitle("title.gateway.temperature", "°C"),
  "controller.quarantine": (a, f) => (isNumber(f.rise) && isNumber(f.quarantined)
    ? t("title.quarantine", { rise: num(f.rise), total: num(f.quarantined) })
    : typeLabel(a.type)),
};

/** The alert's title in the operator's language; the server's own title for a type the
 *  console has no words for. */
export function alertTitle(alert) {
  const f = facts(alert);
  const type = String(alert?.type ?? "");
  if (type.startsWith("flood.") || (f.level && isSiaga(f.level) && type === "sensor.threshold")) {
    return floodTitle(alert, f);
  }
  const render = TITLES[type];
  let title;
  if (render) title = render(alert, f);
  else if (typeName(type)) title = t("title.at", { what: typeName(type), device: where(alert) });
  else return String(alert?.title || type);
  const origin = originKey(f);
  return origin ? t(origin, { title }) : title;
}
