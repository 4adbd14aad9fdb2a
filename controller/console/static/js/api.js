// The one place that talks to /api/v1: the session cookie goes along by itself, writes carry the
// CSRF header the API requires for cookie-authenticated requests, and a 401 anywhere sends the
// browser to the login page (coming back to the same view afterwards).

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** Go to the login page, remembering the view to return to. */
export function toLogin() {
  const back = window.location.hash || "";
  const kiosk = new URLSearchParams(window.location.search).get("kiosk") === "1" ? "1" : "";
  const query = new URLSearchParams();
  if (back) query.set("next", back);
  if (kiosk) query.set("kiosk", kiosk);
  const qs = query.toString();
  window.location.replace(`login.html${qs ? `?${qs}` : ""}`);
}

async function request(method, path, { body, params, redirect = true } = {}) {
  const url = new URL(API + path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, v));
    else url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-Kendali-Csrf"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && redirect) {
    toLogin();
    throw new ApiError(401, "unauthenticated", "");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error, data?.detail);
  }
  return data;
}

export const api = {
  get: (path, params, options = {}) => request("GET", path, { params, ...options }),
  post: (path, body, options = {}) => request("POST", path, { body, ...options }),
};

/** The URL of a stored JPEG (same origin: the CSP allows nothing else). */
export function snapshotUrl(id) {
  return `${API}/snapshots/${encodeURIComponent(id)}.jpg`;
}

export function cameraSnapshotUrl(gw, cam, bust) {
  const base = `${API}/cameras/${encodeURIComponent(gw)}/${encodeURIComponent(cam)}/snapshot.jpg`;
  return bust ? `${base}?t=${bust}` : base;
}
