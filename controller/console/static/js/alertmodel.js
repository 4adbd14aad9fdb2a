// The feed's data, apart from drawing it: alerts by id, which of them the filters keep, in which
// order, and how a journal message from the stream changes them.

export const SEVERITIES = ["critical", "major", "minor", "warning"];
export const STATUS_FILTERS = ["open", "unacked", "active", "all"];
const SOUNDING = new Set(["raised", "reopened", "escalated"]);

/** Whether one alert passes the filters ({site, type, severity, status}); "" means any. */
export function matches(alert, filters) {
  if (filters.severity && alert.severity !== filters.severity) return false;
  if (filters.site && alert.site !== filters.site) return false;
  if (filters.type) {
    if (filters.type.endsWith("*")) {
      if (!alert.type.startsWith(filters.type.slice(0, -1))) return false;
    } else if (alert.type !== filters.type) {
      return false;
    }
  }
  switch (filters.status || "open") {
    case "open":
      return alert.status !== "closed";
    case "unacked":
      return alert.status === "active_unack" || alert.status === "cleared_unack";
    case "active":
      return alert.status === "active_unack" || alert.status === "active_ack";
    default:
      return true;
  }
}

/** Query parameters for GET /alerts with the same meaning as ``matches``. */
export function queryFor(filters, limit = 200) {
  return {
    status: filters.status || "open",
    severity: filters.severity || undefined,
    site: filters.site || undefined,
    type: filters.type || undefined,
    limit,
  };
}

/** Newest activity first; among equals the more severe first. */
export function compare(a, b) {
  if (b.last_at !== a.last_at) return b.last_at - a.last_at;
  return SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity);
}

/** Whether a journal message should ring the alarm (a critical alert that is new or back). */
export function shouldSound(message) {
  return message.alert?.severity === "critical" && SOUNDING.has(message.action);
}

// Offered in the type filter even before one has happened (the engine's own types).
const KNOWN_TYPES = ["motion", "flood.level", "camera.offline", "gateway.offline", "sensor.failing"];

/** Type filter choices: the known types, every type seen, and their families ("flood.*"). */
export function typeChoices(types) {
  const out = new Set();
  for (const type of [...KNOWN_TYPES, ...types]) {
    out.add(type);
    const parts = type.split(".");
    for (let i = 1; i < parts.length; i += 1) out.add(`${parts.slice(0, i).join(".")}.*`);
  }
  return [...out].sort();
}

export class AlertSet {
  constructor() {
    this.byId = new Map();
    this.leaving = new Set(); // no longer matching the filters, shown greyed for a moment
  }

  /** Replace everything with a fresh list from the API. */
  reset(items) {
    this.byId.clear();
    this.leaving.clear();
    for (const alert of items) this.byId.set(alert.id, alert);
  }

  /** Apply one alert as the stream or an action returned it; never go back to an older state.
   *  Returns true when something changed. */
  upsert(alert) {
    const known = this.byId.get(alert.id);
    if (known && (known.updated_at ?? 0) > (alert.updated_at ?? 0)) return false;
    this.byId.set(alert.id, alert);
    return true;
  }

  remove(id) {
    this.byId.delete(id);
    this.leaving.delete(id);
  }

  /** Take one changed alert from the stream under ``filters``. Returns what the list does:
   *  "stale" (older than what we have: nothing), "shown" (it matches), "leaving" (it was on
   *  screen and no longer matches: show it greyed a moment, then ``settle``), "gone" (it does
   *  not match and was not on screen: not kept). */
  take(alert, filters) {
    const before = this.byId.get(alert.id);
    const wasShown = Boolean(before) && (this.leaving.has(alert.id) || matches(before, filters));
    if (!this.upsert(alert)) return "stale";
    if (matches(alert, filters)) {
      this.leaving.delete(alert.id);
      return "shown";
    }
    if (!wasShown) {
      this.remove(alert.id);
      return "gone";
    }
    this.leaving.add(alert.id);
    return "leaving";
  }

  /** After the moment: drop it unless a later change made it match again. */
  settle(id, filters) {
    this.leaving.delete(id);
    const alert = this.byId.get(id);
    if (alert && !matches(alert, filters)) this.byId.delete(id);
  }

  isLeaving(id) {
    return this.leaving.has(id);
  }

  get(id) {
    return this.byId.get(id);
  }

  visible(filters) {
    return [...this.byId.values()]
      .filter((a) => this.leaving.has(a.id) || matches(a, filters))
      .sort(compare);
  }

  types() {
    return new Set([...this.byId.values()].map((a) => a.type));
  }
}
