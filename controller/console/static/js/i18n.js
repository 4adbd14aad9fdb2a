// Every string a person reads goes through this table: Indonesian by default, English on request.
// The choice is remembered in localStorage so a wall display keeps its language across reloads.

const TABLE = {
  id: {
    "app.title": "Kendali — Konsol Operator",
    "app.brand": "Kendali",
    "nav.alerts": "Peringatan",
    "nav.fleet": "Perangkat",
    "nav.wall": "Layar dinding",
    "nav.logout": "Keluar",
    "lang.switch": "English",
    "sound.on": "Suara: nyala",
    "sound.off": "Suara: mati",
    "sound.hint": "Klik untuk mengizinkan bunyi peringatan kritis",
    "stream.live": "Langsung",
    "stream.connecting": "Menyambung…",
    "stream.lost": "Terputus, mencoba lagi…",
    "login.title": "Masuk ke Kendali",
    "login.username": "Nama pengguna",
    "login.password": "Kata sandi",
    "login.submit": "Masuk",
    "login.failed": "Nama pengguna atau kata sandi salah.",
    "login.limited": "Terlalu banyak percobaan. Coba lagi sebentar lagi.",
    "login.error": "Gagal masuk: {detail}",
    "error.generic": "Terjadi kesalahan: {detail}",
    "error.forbidden": "Anda tidak berhak melakukan ini.",
    "error.notfound": "Tidak ditemukan.",
    "error.ratelimited": "Terlalu sering, tunggu sebentar.",
    "loading": "Memuat…",
    "none": "—",
    "user.role.viewer": "pemantau",
    "user.role.operator": "operator",
    "user.role.admin": "admin",
    "feed.title": "Peringatan aktif",
    "feed.empty": "Tidak ada peringatan.",
    "feed.count": "{n} peringatan",
    "feed.more": "Muat peringatan yang lebih lama",
    "filter.site": "Lokasi",
    "filter.type": "Jenis",
    "filter.severity": "Tingkat",
    "filter.status": "Status",
    "filter.all": "Semua",
    "filter.nosite": "(tanpa lokasi)",
    "severity.critical": "Kritis",
    "severity.major": "Berat",
    "severity.minor": "Ringan",
    "severity.warning": "Waspada",
    "status.active_unack": "Aktif, belum ditanggapi",
    "status.active_ack": "Aktif, ditanggapi",
    "status.cleared_unack": "Pulih, belum ditanggapi",
    "status.closed": "Selesai",
    "statusfilter.open": "Terbuka",
    "statusfilter.unacked": "Belum ditanggapi",
    "statusfilter.active": "Aktif",
    "statusfilter.all": "Semua (termasuk selesai)",
    "alert.site": "Lokasi",
    "alert.device": "Perangkat",
    "alert.type": "Jenis",
    "alert.time": "Waktu",
    "alert.first": "Pertama",
    "alert.count": "×{n}",
    "alert.count.title": "Terjadi {n} kali",
    "alert.acked_by": "Ditanggapi oleh {who}",
    "alert.cleared_by": "Dipulihkan oleh {who}",
    "alert.escalated": "Dieskalasi (tahap {n})",
    "alert.flapping": "Naik-turun",
    "alert.ack": "Tanggapi",
    "alert.clear": "Pulihkan",
    "alert.comment": "Komentar",
    "alert.comments": "Komentar",
    "alert.comment.placeholder": "Tulis komentar…",
    "alert.comment.send": "Kirim",
    "alert.comment.cancel": "Batal",
    "alert.comment.none": "Belum ada komentar.",
    "alert.snapshot": "Gambar dari {device}",
    "alert.snapshot.close": "Tutup",
    "action.raised": "baru",
    "action.updated": "diperbarui",
    "action.escalated": "dieskalasi",
    "action.acked": "ditanggapi",
    "action.cleared": "pulih",
    "action.closed": "selesai",
    "action.reopened": "dibuka lagi",
    "action.commented": "dikomentari",
    "fleet.title": "Perangkat per lokasi",
    "fleet.empty": "Belum ada gateway yang terlihat.",
    "fleet.nosite": "Tanpa lokasi",
    "fleet.gateway.count": "{n} gateway",
    "fleet.cameras": "Kamera",
    "fleet.sensors": "Sensor",
    "fleet.state.online": "Daring",
    "fleet.state.offline": "Luring",
    "fleet.state.unknown": "Tidak diketahui",
    "fleet.degraded": "Terganggu",
    "fleet.stale": "Angka terakhir (usang)",
    "fleet.lastseen": "Terakhir terlihat",
    "fleet.agent": "Agen",
    "fleet.config": "Konfigurasi",
    "fleet.cpu": "CPU",
    "fleet.memory": "Memori",
    "fleet.disk": "Disk",
    "fleet.temperature": "Suhu",
    "fleet.problems": "Masalah",
    "fleet.camera.up": "Menyala",
    "fleet.camera.down": "Mati",
    "fleet.camera.lastframe": "Gambar terakhir",
    "fleet.sensor.lastreading": "Bacaan terakhir",
    "fleet.sensor.active": "Level aktif",
    "fleet.nocameras": "Tidak ada kamera.",
    "fleet.nosensors": "Tidak ada sensor.",
    "fleet.model": "Model",
    "fleet.profile": "Profil",
    "fleet.state": "Keadaan",
    "age.seconds": "{n} dtk lalu",
    "age.minutes": "{n} mnt lalu",
    "age.hours": "{n} jam lalu",
    "age.days": "{n} hari lalu",
    "age.never": "belum pernah",
    "camera.title": "Kamera {cam} di {gw}",
    "camera.nosnapshot": "Belum ada gambar tersimpan untuk kamera ini.",
    "camera.snapshot": "Ambil gambar sekarang",
    "camera.live": "Segarkan langsung (1/dtk)",
    "camera.paused": "Dijeda: halaman tidak terlihat",
    "camera.taken": "Dimuat pukul {time}",
    "camera.back": "← Perangkat",
    "sensor.title": "Sensor {sensor} di {gw}",
    "sensor.noreadings": "Belum ada bacaan.",
    "sensor.range": "Rentang",
    "sensor.range.1h": "1 jam",
    "sensor.range.6h": "6 jam",
    "sensor.range.24h": "24 jam",
    "sensor.latest": "Terakhir: {value} {unit} ({time})",
    "sensor.levels": "Level Siaga",
    "wall.title": "Pusat Komando — Peringatan Langsung",
    "wall.gateways": "Gateway daring",
    "wall.degraded": "Terganggu",
    "wall.offline": "Luring",
    "wall.cameras": "Kamera menyala",
    "wall.sensors": "Sensor normal",
    "wall.open": "Peringatan terbuka",
    "time.zone": "WITA",
  },
  en: {
    "app.title": "Kendali — Operator Console",
    "app.brand": "Kendali",
    "nav.alerts": "Alerts",
    "nav.fleet": "Fleet",
    "nav.wall": "Wall display",
    "nav.logout": "Log out",
    "lang.switch": "Bahasa Indonesia",
    "sound.on": "Sound: on",
    "sound.off": "Sound: off",
    "sound.hint": "Click to allow the sound for critical alerts",
    "stream.live": "Live",
    "stream.connecting": "Connecting…",
    "stream.lost": "Disconnected, retrying…",
    "login.title": "Sign in to Kendali",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.failed": "Wrong username or password.",
    "login.limited": "Too many attempts. Try again shortly.",
    "login.error": "Sign-in failed: {detail}",
    "error.generic": "Something went wrong: {detail}",
    "error.forbidden": "You are not allowed to do this.",
    "error.notfound": "Not found.",
    "error.ratelimited": "Too often, wait a moment.",
    "loading": "Loading…",
    "none": "—",
    "user.role.viewer": "viewer",
    "user.role.operator": "operator",
    "user.role.admin": "admin",
    "feed.title": "Open alerts",
    "feed.empty": "No alerts.",
    "feed.count": "{n} alerts",
    "feed.more": "Load older alerts",
    "filter.site": "Site",
    "filter.type": "Type",
    "filter.severity": "Severity",
    "filter.status": "Status",
    "filter.all": "All",
    "filter.nosite": "(no site)",
    "severity.critical": "Critical",
    "severity.major": "Major",
    "severity.minor": "Minor",
    "severity.warning": "Warning",
    "status.active_unack": "Active, unacknowledged",
    "status.active_ack": "Active, acknowledged",
    "status.cleared_unack": "Cleared, unacknowledged",
    "status.closed": "Closed",
    "statusfilter.open": "Open",
    "statusfilter.unacked": "Unacknowledged",
    "statusfilter.active": "Active",
    "statusfilter.all": "All (including closed)",
    "alert.site": "Site",
    "alert.device": "Device",
    "alert.type": "Type",
    "alert.time": "Time",
    "alert.first": "First",
    "alert.count": "×{n}",
    "alert.count.title": "Happened {n} times",
    "alert.acked_by": "Acknowledged by {who}",
    "alert.cleared_by": "Cleared by {who}",
    "alert.escalated": "Escalated (step {n})",
    "alert.flapping": "Flapping",
    "alert.ack": "Acknowledge",
    "alert.clear": "Clear",
    "alert.comment": "Comment",
    "alert.comments": "Comments",
    "alert.comment.placeholder": "Write a comment…",
    "alert.comment.send": "Send",
    "alert.comment.cancel": "Cancel",
    "alert.comment.none": "No comments yet.",
    "alert.snapshot": "Picture from {device}",
    "alert.snapshot.close": "Close",
    "action.raised": "new",
    "action.updated": "updated",
    "action.escalated": "escalated",
    "action.acked": "acknowledged",
    "action.cleared": "cleared",
    "action.closed": "closed",
    "action.reopened": "reopened",
    "action.commented": "commented",
    "fleet.title": "Fleet by site",
    "fleet.empty": "No gateways seen yet.",
    "fleet.nosite": "No site",
    "fleet.gateway.count": "gateways: {n}",
    "fleet.cameras": "Cameras",
    "fleet.sensors": "Sensors",
    "fleet.state.online": "Online",
    "fleet.state.offline": "Offline",
    "fleet.state.unknown": "Unknown",
    "fleet.degraded": "Degraded",
    "fleet.stale": "Last known figures (stale)",
    "fleet.lastseen": "Last seen",
    "fleet.agent": "Agent",
    "fleet.config": "Config",
    "fleet.cpu": "CPU",
    "fleet.memory": "Memory",
    "fleet.disk": "Disk",
    "fleet.temperature": "Temp.",
    "fleet.problems": "Problems",
    "fleet.camera.up": "Up",
    "fleet.camera.down": "Down",
    "fleet.camera.lastframe": "Last frame",
    "fleet.sensor.lastreading": "Last reading",
    "fleet.sensor.active": "Active levels",
    "fleet.nocameras": "No cameras.",
    "fleet.nosensors": "No sensors.",
    "fleet.model": "Model",
    "fleet.profile": "Profile",
    "fleet.state": "State",
    "age.seconds": "{n} s ago",
    "age.minutes": "{n} min ago",
    "age.hours": "{n} h ago",
    "age.days": "{n} d ago",
    "age.never": "never",
    "camera.title": "Camera {cam} on {gw}",
    "camera.nosnapshot": "No stored picture for this camera yet.",
    "camera.snapshot": "Take a picture now",
    "camera.live": "Live refresh (1/s)",
    "camera.paused": "Paused: page not visible",
    "camera.taken": "Loaded at {time}",
    "camera.back": "← Fleet",
    "sensor.title": "Sensor {sensor} on {gw}",
    "sensor.noreadings": "No readings yet.",
    "sensor.range": "Range",
    "sensor.range.1h": "1 hour",
    "sensor.range.6h": "6 hours",
    "sensor.range.24h": "24 hours",
    "sensor.latest": "Latest: {value} {unit} ({time})",
    "sensor.levels": "Siaga levels",
    "wall.title": "Command Center — Live Alerts",
    "wall.gateways": "Gateways online",
    "wall.degraded": "Degraded",
    "wall.offline": "Offline",
    "wall.cameras": "Cameras up",
    "wall.sensors": "Sensors normal",
    "wall.open": "Open alerts",
    "time.zone": "WITA",
  },
};

export const LANGUAGES = Object.keys(TABLE);
const STORAGE_KEY = "kendali.lang";

let current = readStored() || "id";

function readStored() {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(value) ? value : null;
  } catch {
    return null;
  }
}

export function language() {
  return current;
}

export function hasStoredLanguage() {
  return readStored() !== null;
}

/** Switch language; ``remember`` stores it (a user's own click), a profile default does not. */
export function setLanguage(lang, remember = true) {
  if (!LANGUAGES.includes(lang)) return;
  current = lang;
  document.documentElement.lang = lang;
  if (remember) {
    try {
      window.localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // private mode: the choice lasts for this page only
    }
  }
}

/** The text for ``key`` with ``{name}`` placeholders filled; an unknown key shows itself. */
export function t(key, params = {}) {
  const text = TABLE[current][key] ?? TABLE.id[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : ""));
}

/** Whether the table has ``key`` (e.g. a status the server added later falls back to raw). */
export function has(key) {
  return key in TABLE[current];
}

/** Fill every ``data-i18n`` element of a static page (login, the shell's header). */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  }
  for (const node of root.querySelectorAll("[data-i18n-title]")) {
    node.setAttribute("title", t(node.dataset.i18nTitle));
  }
  document.title = t("app.title");
}

setLanguage(current, false);
