// The console's shell: check the session, start the live stream, route ``#/...`` to a view, and
// own the header (navigation, language, sound, sign-out).

import { api } from "./api.js";
import { clear, el } from "./dom.js";
import { errorText } from "./errors.js";
import { shouldSound } from "./alertmodel.js";
import { mountCamera } from "./camera.js";
import { mountFeed } from "./feed.js";
import { mountFleet } from "./fleet.js";
import { closePicture } from "./lightbox.js";
import { hasStoredLanguage, language, setLanguage, t, translatePage } from "./i18n.js";
import { mountRollouts } from "./rollouts.js";
import { mountSensor } from "./sensor.js";
import { setUser } from "./session.js";
import { alarm, onSoundChange, soundLabel, toggleSound } from "./sound.js";
import { onAlert, onStatus, startStream } from "./stream.js";
import { mountWall } from "./wall.js";

const VIEWS = {
  alerts: { mount: (container, [id]) => mountFeed(container, { focus: id }), nav: "alerts",
    maxParams: 1 },
  fleet: { mount: mountFleet, nav: "fleet" },
  camera: { mount: mountCamera, nav: "fleet", params: 2 },
  sensor: { mount: mountSensor, nav: "fleet", params: 2 },
  rollouts: { mount: (container, [id]) => mountRollouts(container, id), nav: "rollouts",
    maxParams: 1 },
  wall: { mount: mountWall, nav: "wall", kiosk: true },
};

const RETRY_MS = 5000;
const view = document.getElementById("view");
let unmount = null;

/** "#/camera/gw-01/cam-gate" → ["camera", ["gw-01", "cam-gate"]], "#/alerts/42" → ["alerts",
 *  ["42"]] (a notification's link to one alert); unknown → the feed. */
export function parseRoute(hash, search) {
  if (new URLSearchParams(search).get("kiosk") === "1") return ["wall", []];
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return ""; }
  });
  const name = parts[0] in VIEWS ? parts[0] : "alerts";
  const params = parts.slice(1);
  if (VIEWS[name].params && (params.length !== VIEWS[name].params || params.some((p) => !p))) {
    return ["alerts", []];
  }
  if (params.length > (VIEWS[name].maxParams ?? params.length)) return ["alerts", []];
  return [name, params];
}

function show() {
  unmount?.();
  unmount = null;
  closePicture();
  clear(view);
  const [name, params] = parseRoute(window.location.hash, window.location.search);
  const spec = VIEWS[name];
  document.body.classList.toggle("kiosk", Boolean(spec.kiosk));
  document.body.dataset.view = name;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === spec.nav);
  }
  unmount = spec.mount(view, params) || null;
}

function setupHeader(user) {
  document.getElementById("user-name").textContent =
    `${user.display_name || user.username} (${t(`user.role.${user.role}`)})`;
  const langButton = document.getElementById("lang-switch");
  langButton.textContent = t("lang.switch");
  langButton.onclick = () => {
    setLanguage(language() === "id" ? "en" : "id");
    translatePage();
    setupHeader(user);
    showStreamStatus(streamState);
    show();
  };
  const soundButton = document.getElementById("sound-toggle");
  soundButton.textContent = soundLabel();
  soundButton.title = t("sound.hint");
  soundButton.onclick = () => toggleSound();
  document.getElementById("logout").onclick = async () => {
    try {
      await api.post("/auth/logout", {}, { redirect: false });
    } finally {
      window.location.replace("login.html");
    }
  };
}

let streamState = "connecting";

function showStreamStatus(status) {
  streamState = status;
  const node = document.getElementById("stream-status");
  node.className = `stream stream-${status}`;
  node.textContent = t(`stream.${status}`);
  document.body.dataset.stream = status;
}

/** Who is signed in; a 401 has already gone to the login page. While the controller cannot be
 *  reached the page says so and asks again every few seconds (a wall display must come back by
 *  itself after a controller restart). */
async function signedInUser() {
  for (;;) {
    try {
      return await api.get("/me");
    } catch (error) {
      if (error.status === 401) return null;
      document.body.classList.remove("booting");
      view.replaceChildren(el("p", { class: "notice" }, errorText(error)));
      await new Promise((resolve) => { window.setTimeout(resolve, RETRY_MS); });
    }
  }
}

async function main() {
  translatePage();
  const user = await signedInUser();
  if (!user) return;
  setUser(user);
  if (!hasStoredLanguage() && (user.language === "en" || user.language === "id")) {
    setLanguage(user.language, false);
    translatePage();
  }
  setupHeader(user);
  onSoundChange((on) => {
    const button = document.getElementById("sound-toggle");
    button.textContent = soundLabel();
    button.setAttribute("aria-pressed", on ? "true" : "false");
  });
  onStatus(showStreamStatus);
  onAlert((message) => { if (message && shouldSound(message)) alarm(); });
  startStream();
  window.addEventListener("hashchange", show);
  document.body.classList.remove("booting");
  show();
}

main();
