// What the fleet's server side writes in English, in the operator's language: a camera's errors
// (agent/cameras: "WHERE: no answer in time", "credentials rejected (...)"), why its analytics
// subscription is not up (agent/cameras/camera_events.py), and the problems the controller lists
// for a gateway, its cameras and sensors (controller/fleet/condition.py). The camera's and the
// system's own words inside them (a SOAP fault, an address, an errno text) are kept.

import { reasonText, seconds } from "./alerttext.js";
import { has, t } from "./i18n.js";
import { translated } from "./textmatch.js";

// The tails our camera error classes put after the place they name (agent/cameras/errors.py,
// onvif_soap.py, pullpoint.py, onvif_client.py).
const CAMERA_ERRORS = [
  [/^(.*): no answer in time$/s, (m) => t("camera.error.timeout", { where: m[1] })],
  [/^(.*): connection failed \((\w+)\)$/s,
    (m) => t("camera.error.unreachable", { where: m[1], kind: m[2] })],
  [/^(.*): credentials rejected \(wrong user or password\)$/s,
    (m) => t("camera.error.auth", { where: m[1] })],
  [new RegExp(String.raw`^(.*): credentials rejected \(wrong user or password, or the camera `
    + String.raw`clock is off and could not be read\)$`, "s"),
  (m) => t("camera.error.auth_clock", { where: m[1] })],
  [/^(.*): credentials rejected; the camera clock is ([+-]\d+) s off\b/s,
    (m) => t("camera.error.auth_skew", { where: m[1], skew: m[2] })],
  [/^(.*): credentials rejected \((.*)\)$/s,
    (m) => t("camera.error.auth_detail", { where: m[1], detail: m[2] })],
  [/^(.*): not supported \((.*)\)$/s,
    (m) => t("camera.error.unsupported", { where: m[1], detail: m[2] })],
  [/^(.*): SOAP fault \((.*)\)$/s, (m) => t("camera.error.fault", { where: m[1], detail: m[2] })],
  [/^(.*): malformed SOAP reply$/s, (m) => t("camera.error.malformed", { where: m[1] })],
  [/^(.*): empty reply$/s, (m) => t("camera.error.empty", { where: m[1] })],
  [/^(.*): HTTP (\d+) without a SOAP fault$/s,
    (m) => t("camera.error.http", { where: m[1], status: m[2] })],
  [/^no ONVIF address configured$/, () => t("camera.error.no_address")],
  [/^the camera lists no PTZ service$/, () => t("camera.error.no_ptz")],
  [/^the camera lists no media profile for PTZ calls$/, () => t("camera.error.no_ptz_profile")],
];

/** A camera error (PTZ status, a subscription step) in the operator's language. */
export function cameraError(text) {
  return translated(CAMERA_ERRORS, text);
}

function pushPart(text) {
  if (text === "push subscriptions are off") return t("camera.events.why.push_off");
  let m = /^push Subscribe refused too: (.*)$/s.exec(text);
  if (m) return t("camera.events.why.push_unsupported", { error: cameraError(m[1]) });
  m = /^push subscription refused: (.*)$/s.exec(text);
  return m ? t("camera.events.why.push_refused", { error: cameraError(m[1]) }) : text;
}

const EVENT_REASONS = [
  [/^subscription refused: (.*)$/s,
    (m) => t("camera.events.why.refused", { error: cameraError(m[1]) })],
  [/^subscription gone: (.*)$/s, (m) => t("camera.events.why.gone", { error: cameraError(m[1]) })],
  [/^PullPoint refused( \(the camera says it has no PullPoint support\))?: (.*?); (push .*)$/s,
    (m) => t(m[1] ? "camera.events.why.no_pullpoint" : "camera.events.why.pullpoint_refused",
      { error: cameraError(m[2]), push: pushPart(m[3]) })],
  [/^push consumer cannot listen on (\S+): (.*)$/s,
    (m) => t("camera.events.why.no_listen", { address: m[1], error: m[2] })],
  [/^[\s\S]*$/, (m) => {
    const said = cameraError(m[0]);
    return said === m[0] ? null : said;
  }],
];

/** Why a camera's own event subscription is not up, in the operator's language. */
export function eventsReason(text) {
  return translated(EVENT_REASONS, text);
}

const SENSOR_STATES = ["starting", "connecting", "connected", "running", "reconnecting",
  "disconnected", "crashed", "stopped"];

/** The agent's sensor worker state in the operator's language (raw when unknown). */
export function sensorStateText(state) {
  return SENSOR_STATES.includes(state) ? t(`fleet.sensor.state.${state}`) : String(state ?? "");
}

/** A camera condition ("covered", "upgrading") by its alert type's name where it has one. */
function conditionName(name) {
  for (const key of [`type.camera.${name}`, `fleet.condition.${name}`]) if (has(key)) return t(key);
  return name;
}

const CAMERA_PROBLEMS = [
  [/^stream (down|parked)$/, (m) => t(`fleet.problem.stream_${m[1]}`)],
  [/^stream (down|parked): (.*)$/s, (m) => reasonText(m[0])],
  [/^no frame for (\d+)s$/, (m) => t("reason.no_frame", { age: seconds(Number(m[1])) })],
  [/^condition: (.+)$/s, (m) => t("fleet.problem.condition", { name: conditionName(m[1]) })],
];

const SENSOR_PROBLEMS = [
  [/^state (\S+)(?: \((.*)\))?$/s, (m) => (m[2]
    ? t("fleet.problem.state.error", { state: sensorStateText(m[1]), error: m[2] })
    : t("fleet.problem.state", { state: sensorStateText(m[1]) }))],
  [/^no reading for (\d+)s$/, (m) => t("fleet.problem.no_reading", { age: seconds(Number(m[1])) })],
  [/^errors: (\d+) failed polls, (\d+) good$/,
    (m) => t("fleet.problem.poll_errors", { failed: m[1], good: m[2] })],
];

/** The outbox's disk fault: a code (disk_full, read_only, io_error) said in words. */
function diskError(code) {
  const key = `fleet.disk.${code}`;
  return has(key) ? t(key) : code;
}

const GATEWAY_PROBLEMS = [
  [/^camera (\S+): (.*)$/s,
    (m) => t("fleet.problem.camera", { id: m[1], problem: translated(CAMERA_PROBLEMS, m[2]) })],
  [/^sensor (\S+): (.*)$/s,
    (m) => t("fleet.problem.sensor", { id: m[1], problem: translated(SENSOR_PROBLEMS, m[2]) })],
  [/^worker (\S+) failed$/, (m) => t("fleet.problem.worker", { name: m[1] })],
  [/^outbox disk: (.*)$/s, (m) => t("fleet.problem.outbox", { error: diskError(m[1]) })],
  [new RegExp(String.raw`^certificate expired (.+? UTC): the broker refuses it at its next `
    + String.raw`connect; (?:renew or re-enroll it|renewal failed: (.*))$`, "s"),
  (m) => t(m[2] === undefined ? "fleet.problem.cert_expired" : "fleet.problem.cert_failing",
    { when: m[1], error: m[2] ?? "" })],
];

// "N.N days" / "N.N hours" as controller/fleet/condition.py writes a time left.
const LEFT = String.raw`(\d+(?:\.\d+)?) (days|hours)`;

const GATEWAY_WARNINGS = [
  [new RegExp(`^certificate expires in ${LEFT}(?:; renewal failed: (.*))?$`, "s"),
    (m) => t(m[3] === undefined ? "fleet.warning.cert_expiring" : "fleet.warning.cert_renewal",
      { left: t(`fleet.left.${m[2]}`, { n: m[1] }), error: m[3] ?? "" })],
];

/** One of a gateway's warnings (a certificate near expiry whose renewal fails) in the
 *  operator's language; unknown warnings as written. */
export function warningText(text) {
  return translated(GATEWAY_WARNINGS, text);
}

/** One of a gateway's problems ("camera cam-yard: stream down: timeout") in the operator's
 *  language; the camera's or sensor's own error text inside it is kept. */
export function problemText(text) {
  return translated(GATEWAY_PROBLEMS, text);
}

/** One of a camera's own problems (the camera page lists them without the "camera ID: "). */
export function cameraProblemText(text) {
  return translated(CAMERA_PROBLEMS, text);
}

/** One of a sensor's own problems ("state crashed (port gone)"). */
export function sensorProblemText(text) {
  return translated(SENSOR_PROBLEMS, text);
}
