// The live alert journal over server-sent events. The browser reconnects by itself and sends
// Last-Event-ID, so the server replays what we missed — but only if this stream had received an
// event before it dropped, and a reconnect races with rows written while the API starts. So
// every time the stream (re)opens, listeners are told to reload (``fn(null)``): the list from
// GET /alerts plus the live rows from then on, duplicates being harmless. When the browser gives
// up (an error answer, e.g. an expired session) we check the session and open a new stream.

import { API, api } from "./api.js";

const listeners = new Set();
const statusListeners = new Set();
let source = null;
let status = "connecting";
let retryTimer = null;

function setStatus(value) {
  status = value;
  statusListeners.forEach((fn) => fn(value));
}

/** ``fn(message)`` for every alert journal row: {journal_id, action, who, at, alert};
 *  ``fn(null)`` whenever the stream (re)opened and a reload is due. */
export function onAlert(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onStatus(fn) {
  statusListeners.add(fn);
  fn(status);
  return () => statusListeners.delete(fn);
}

function dispatch(event) {
  let message;
  try {
    message = JSON.parse(event.data);
  } catch {
    return;
  }
  if (!message || typeof message !== "object" || !message.alert) return;
  listeners.forEach((fn) => fn(message));
}

export function startStream() {
  if (source) return;
  setStatus("connecting");
  const es = new EventSource(`${API}/stream`);
  source = es;
  es.addEventListener("open", () => {
    setStatus("live");
    listeners.forEach((fn) => fn(null));
  });
  es.addEventListener("alert", dispatch);
  es.addEventListener("error", () => {
    if (es !== source) return; // an old stream's last word
    if (es.readyState === EventSource.CLOSED) {
      reopenLater();
    } else {
      setStatus("lost"); // the browser is reconnecting with Last-Event-ID
    }
  });
}

function reopenLater() {
  setStatus("lost");
  source?.close();
  source = null;
  if (retryTimer) return;
  retryTimer = window.setTimeout(async () => {
    retryTimer = null;
    try {
      await api.get("/me"); // a 401 here goes to the login page
    } catch {
      reopenLater();
      return;
    }
    startStream();
  }, 3000);
}
