// The live alert journal over server-sent events. The browser reconnects by itself and sends
// Last-Event-ID, so the server replays what we missed. When the browser gives up (the server
// answered with an error, e.g. an expired session) we check the session and open a new stream;
// listeners are then told to reload, because that new stream starts without a Last-Event-ID.

import { API, api } from "./api.js";

const listeners = new Set();
const statusListeners = new Set();
let source = null;
let status = "connecting";
let retryTimer = null;
let lastId = null;

function setStatus(value) {
  status = value;
  statusListeners.forEach((fn) => fn(value));
}

export function streamStatus() {
  return status;
}

export function lastEventId() {
  return lastId;
}

/** ``fn(message)`` for every alert journal row: {journal_id, action, who, at, alert};
 *  ``fn(null)`` when the stream had to be reopened and a reload is due. */
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
  lastId = event.lastEventId || lastId;
  listeners.forEach((fn) => fn(message));
}

export function startStream() {
  if (source) return;
  setStatus("connecting");
  const es = new EventSource(`${API}/stream`);
  source = es;
  es.addEventListener("open", () => setStatus("live"));
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
    listeners.forEach((fn) => fn(null));
  }, 3000);
}

export function stopStream() {
  source?.close();
  source = null;
  if (retryTimer) window.clearTimeout(retryTimer);
  retryTimer = null;
}
