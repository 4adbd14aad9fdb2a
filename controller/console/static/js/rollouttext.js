// A rollout's texts in the operator's language: the statuses, the rollout's own reason (written
// by controller/rollouts/engine.py and store.py) and each gateway's (the engine's, or what the
// gateway reported: the agent's update reason code with its detail, from agent/update, or the
// words of a refused command). Codes and known wording are translated; a detail that is a
// device's or the system's own text (a file name, pip's output) is kept as written.

import { num, seconds } from "./alerttext.js";
import { cameraError } from "./fleettext.js";
import { has, t } from "./i18n.js";
import { translated } from "./textmatch.js";

/** The label of a status in the current language (a status added later shows as it is). */
export function statusLabel(status) {
  const key = `rollout.status.${status}`;
  return has(key) ? t(key) : String(status ?? "");
}

/** An agent update step ("downloading", the state it was in) as a phrase ("mengunduh"). */
function step(name) {
  const key = `update.step.${name}`;
  return has(key) ? t(key) : name;
}

const ROLLOUT_REASONS = [
  [/^(\d+) of (\d+) committed$/, (m) => t("rollout.reason.completed", { done: m[1], total: m[2] })],
  [/^aborted by (.+)$/s, (m) => t("rollout.reason.aborted_by", { who: m[1] })],
  [/^failure threshold: (\d+) failed, limit (\d+)$/,
    (m) => t("rollout.reason.failure_limit", { failed: m[1], limit: m[2] })],
  [/^wave (\d+) ended with (\d+)% committed, ([\d.]+)% needed$/,
    (m) => t("rollout.reason.wave_short", { wave: m[1], share: m[2], needed: num(Number(m[3])) })],
];

/** The rollout's reason ("3 of 4 committed", "aborted by admin") in the operator's language. */
export function rolloutReason(text) {
  return translated(ROLLOUT_REASONS, text);
}

// The agent's stable update reason codes (UpdateHealth.reason; common/release's refusals).
const CODES = new Set([
  "unsigned", "bad_signature", "unknown_key", "retired_key", "malformed_manifest", "wrong_product",
  "expired", "downgrade", "below_min_compatible", "missing_file", "size_mismatch", "hash_mismatch",
  "unexpected_file", "state_unreadable", "attempts_exhausted", "download_error",
  "version_mismatch", "install_error", "switch_error", "restart_error", "disk_full", "read_only",
  "io_error", "storage_error", "trial_deadline", "crash_loop", "trial_failed", "rolled_back",
]);
const STORAGE = new Set(["disk_full", "read_only", "io_error", "storage_error"]);
const STEP_ERROR = /^(downloading|verifying|installing|switching)_error$/;

/** The phrase for a reason code ("disk penuh"); null for a code the console does not know. */
export function codeText(code) {
  if (CODES.has(code)) return t(`update.reason.${code}`);
  const stepError = STEP_ERROR.exec(code);
  return stepError ? t("update.reason.step_error", { step: step(stepError[1]) }) : null;
}

// What the agent adds after a storage failure: the free space and what to do.
const FREE_HINT = new RegExp(String.raw`^([\s\S]*?)\.? (?:(\d+) bytes free there: free space`
  + String.raw`|Free space there) and send the update again\.$`);

function freeHint(detail) {
  const match = FREE_HINT.exec(detail);
  if (!match) return [detail, ""];
  const hint = match[2] === undefined ? t("update.hint.free")
    : t("update.hint.free_bytes", { mb: num(Math.round(Number(match[2]) / 1e5) / 10) });
  return [match[1], hint];
}

// Details the agent writes in our own words, for the codes that have them.
// Why a version on trial is not healthy yet (agent/supervisor.py's trial health).
const TRIAL_WHY = [
  [/^not connected to the broker$/, () => t("update.why.not_connected")],
  [/^a supervised worker has given up$/, () => t("update.why.worker_gave_up")],
  [/^worker\(s\) not running: (.+)$/s, (m) => t("update.why.workers_waiting", { names: m[1] })],
  [/^not yet settled$/, () => t("update.why.settling")],
];

const DETAILS = [
  [/^(downloading|verifying|installing|switching): .+ in (\/\S*)$/s,
    (m) => t("update.detail.storage", { step: step(m[1]), dir: m[2] })],
  [/^cannot record the update in (.+?): .*?; nothing was started$/s,
    (m) => t("update.detail.not_recorded", { dir: m[1] })],
  [/^(.+) did not connect and pass its health checks within ([\d.]+) s$/s,
    (m) => t("update.detail.trial_deadline", { version: m[1], time: seconds(Number(m[2])) })],
  [/^not healthy within ([\d.]+) s: (.*)$/s,
    (m) => t("update.detail.not_healthy",
      { time: seconds(Number(m[1])), why: translated(TRIAL_WHY, m[2]) })],
  [/^(.+) stopped (\d+) times before it committed$/s,
    (m) => t("update.detail.crash_loop", { version: m[1], n: m[2] })],
  [/^the update was interrupted (\d+) times in (\w+)$/,
    (m) => t("update.detail.interrupted", { n: m[1], step: step(m[2]) })],
];

/** "disk_full" with its detail as one sentence: the code's phrase, then the detail in our words
 *  when the agent wrote it in words the console knows, else as written; null for an unknown
 *  code. The refusal of a command that could not be recorded repeats the code: said once. */
export function updateReason(code, detail = "") {
  const phrase = codeText(code);
  if (phrase === null) return null;
  let rest = String(detail ?? "");
  if (rest.startsWith(`${code}: `)) rest = rest.slice(code.length + 2);
  const [body, hint] = STORAGE.has(code) ? freeHint(rest) : [rest, ""];
  const said = body ? translated(DETAILS, body) : "";
  return [said ? `${phrase}: ${said}` : phrase, hint].filter(Boolean).join(". ");
}

// A camera firmware rollout's words: the camera-firmware command's refusals and outcomes
// (agent/commands/camera_firmware.py, agent/cameras/firmware.py, controller/rollouts/cameras.py).
const CAMERA_FIRMWARE = [
  [/^answered (['"])(.*)\1 with version (['"])(.*)\3, not (.+)$/s,
    (m) => t("firmware.answered", { outcome: m[2], after: m[4], version: m[5] })],
  [/^failed: camera does not offer ONVIF HTTP firmware upgrade$/, () => t("firmware.no_upgrade")],
  [/^not_back: camera did not answer within (\d+) s \((.*)\)$/s, (m) => t("firmware.not_back",
    { time: seconds(Number(m[1])), error: m[2] === "no reply" ? t("firmware.no_reply")
      : cameraError(m[2]) })],
  [/^version_mismatch: camera (never rebooted and )?reports (.+), expected (.+)$/s,
    (m) => t(m[1] ? "firmware.mismatch.never_rebooted" : "firmware.mismatch",
      { seen: m[2], expected: m[3] })],
  [/^failed: (.+)$/s, (m) => t("firmware.failed", { error: cameraError(m[1]) })],
  [/^no camera (.+) on this gateway$/s, (m) => t("firmware.no_camera", { camera: m[1] })],
  [/^camera (\S+) has no ONVIF address: cannot upgrade it$/,
    (m) => t("firmware.no_address", { camera: m[1] })],
];

const GATEWAY_REASONS = [
  [/^offline when its wave started$/, () => t("rollout.gw.offline")],
  [/^already runs (.+)$/s, (m) => t("rollout.gw.already_runs", { version: m[1] })],
  [/^no outcome (\d+) s after its command(?: \(last: (\w+)\))?$/, (m) => {
    const base = t("rollout.gw.no_outcome", { time: seconds(Number(m[1])) });
    return m[2] ? t("rollout.gw.last", { text: base, status: statusLabel(m[2]) }) : base;
  }],
  [/^rollout aborted$/, () => t("rollout.gw.aborted")],
  [/^the gateway refused the (update|camera-firmware) command$/, () => t("rollout.gw.refused")],
  [/^an update to (.+) is (\w+); wait for its outcome$/s,
    (m) => t("rollout.gw.busy", { version: m[1], step: step(m[2]) })],
  [/^this gateway already runs (.+)$/s, (m) => t("rollout.gw.already_runs", { version: m[1] })],
  [/^this agent was not started by kendali-launcher\b/, () => t("rollout.gw.no_launcher")],
  [/^upgraded (.+) -> (.+)$/s, (m) => t("rollout.gw.upgraded", { before: m[1], after: m[2] })],
  [/^the camera is taking the image$/, () => t("rollout.gw.camera_installing")],
  ...CAMERA_FIRMWARE,
  [/^([a-z][a-z0-9_]*)(?:: ([\s\S]*))?$/, (m) => updateReason(m[1], m[2] ?? "")],
];

/** A gateway's reason in a rollout in the operator's language; an unknown one as written. */
export function gatewayReason(text) {
  return translated(GATEWAY_REASONS, text);
}
