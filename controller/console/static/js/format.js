// Times for people in the command center: WITA (Asia/Makassar, UTC+8) whatever the browser's zone.

import { language, t } from "./i18n.js";

const ZONE = "Asia/Makassar";
const formatters = new Map();

function formatter(kind) {
  const key = `${language()}:${kind}`;
  if (!formatters.has(key)) {
    const time = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
    const date = { day: "2-digit", month: "short", year: "numeric" };
    const options = { day: date, time, full: { ...date, ...time } }[kind];
    const locale = language() === "id" ? "id-ID" : "en-GB";
    formatters.set(key, new Intl.DateTimeFormat(locale, { timeZone: ZONE, ...options }));
  }
  return formatters.get(key);
}

/** "14:03:12 WITA" today, "01 Des 2026 14:03:12 WITA" otherwise; epoch seconds in. */
export function wita(seconds) {
  if (seconds === null || seconds === undefined) return t("none");
  const date = new Date(seconds * 1000);
  const sameDay = formatter("day").format(date) === formatter("day").format(new Date());
  return `${formatter(sameDay ? "time" : "full").format(date)} ${t("time.zone")}`;
}

/** A short relative age: "12 s ago", "3 min ago". */
export function age(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return t("age.never");
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return t("age.seconds", { n: s });
  if (s < 90 * 60) return t("age.minutes", { n: Math.round(s / 60) });
  if (s < 36 * 3600) return t("age.hours", { n: Math.round(s / 3600) });
  return t("age.days", { n: Math.round(s / 86400) });
}

export function ageSince(epochSeconds) {
  if (!epochSeconds) return t("age.never");
  return age(Date.now() / 1000 - epochSeconds);
}

export function percent(value) {
  return value === null || value === undefined ? t("none") : `${Math.round(value)} %`;
}

/** A measured value with ``digits`` decimals in the operator's notation (Indonesian: 359,60);
 *  whole numbers as they are, without grouping (a level of 1200 cm, a count). */
export function number(value, digits = 2) {
  if (value === null || value === undefined) return t("none");
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  const fixed = value.toFixed(digits);
  return language() === "id" ? fixed.replace(".", ",") : fixed;
}
