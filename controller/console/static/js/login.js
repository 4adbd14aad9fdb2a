// The sign-in form: POST /auth/login sets the session cookie; then back to the view that sent us
// here (only a "#/..." fragment is accepted, never another address).

import { API } from "./api.js";
import { language, setLanguage, t, translatePage } from "./i18n.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const langButton = document.getElementById("lang-switch");

/** Where to go after signing in: the console with the remembered view, kiosk kept. */
export function destination(search) {
  const query = new URLSearchParams(search);
  const next = query.get("next") || "";
  const hash = /^#\/[\w\-/%.~]*$/.test(next) ? next : "";
  return `./${query.get("kiosk") === "1" ? "?kiosk=1" : ""}${hash}`;
}

function render() {
  translatePage();
  langButton.textContent = t("lang.switch");
}

function fail(key, params) {
  error.textContent = t(key, params);
  error.hidden = false;
}

langButton.addEventListener("click", () => {
  setLanguage(language() === "id" ? "en" : "id");
  render();
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    fail("login.failed");
    return;
  }
  let response;
  try {
    response = await fetch(`${API}/auth/login`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
        "X-Kendali-Csrf": "1" },
      body: JSON.stringify({ username, password }),
    });
  } catch (e) {
    fail("login.error", { detail: e.message });
    return;
  }
  if (response.ok) {
    window.location.replace(destination(window.location.search));
  } else if (response.status === 401 || response.status === 403) {
    fail("login.failed");
    form.password.value = "";
  } else if (response.status === 429) {
    fail("login.limited");
  } else {
    const data = await response.json().catch(() => ({}));
    fail("login.error", { detail: data.detail || response.status });
  }
});

render();
form.username.focus();
