"""``kendali provision verify``: the technician's done signal, as verdicts over data.

Each function here turns what was observed (the agent's configuration, its certificate, a TLS
handshake, the controller's view of the gateway) into one :class:`Item`: pass, warn or fail,
with what was seen and, unless it passed, the fix to try. The command line
(``kendali_cli/verify.py``) gathers the observations and polls; nothing here waits.

The broker check judges a TLS handshake with the gateway's own certificate and no MQTT CONNECT
(:mod:`provisioning.tls_probe` makes it): the broker takes the client id from the certificate
(``use_username_as_clientid``), so an MQTT connection with the agent's certificate would replace
the agent's own session; a handshake opens no session at all, and the controller's view
(online, recently seen) covers the rest.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from firmware_profiles.schema import FirmwareProfile
from provisioning.tls_probe import Handshake, TlsFiles, tls_handshake

__all__ = ["Handshake", "TlsFiles", "tls_handshake"]  # the probe, for callers of this module

Status = Literal["pass", "warn", "fail"]
# A certificate this close to its end is a warning: renewal should have replaced it by then.
EXPIRY_WARN_DAYS = 30
# Sensor worker states that mean "working" (the controller's condition rule uses the same set).
SENSOR_OK_STATES = frozenset({"connected", "running", "starting"})
# "Seen recently": the controller heard from the gateway within this many health periods...
SEEN_PERIODS = 3
# ...and never asks for less than this (the link's keepalive and batching take their time).
SEEN_MIN_S = 60.0
READING_MIN_WINDOW_S = 30.0
# The agent's clock this far from the controller's is worth fixing.
CLOCK_SKEW_WARN_S = 5.0
SHOWN_MAX = 4  # resources shown in a sensor's line (every one is checked)
ENROLL_AGAIN = "enroll again (kendali provision enroll) or ask for a new certificate"
AGENT_FIX = (
    "check the agent runs (systemctl status kendali-agent) and read its log "
    "(journalctl -u kendali-agent)"
)


@dataclass(frozen=True)
class Item:
    """One line of the report."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class SensorPlan:
    id: str
    profile: str
    poll_interval_s: float


@dataclass(frozen=True)
class GatewayPlan:
    """What the agent's configuration says this gateway is and runs."""

    gateway_id: str
    broker_host: str
    broker_port: int
    tls: TlsFiles | None
    cameras: tuple[str, ...] = ()
    sensors: tuple[SensorPlan, ...] = ()
    health_interval_s: float = 15.0

    @property
    def seen_within_s(self) -> float:
        return max(SEEN_MIN_S, SEEN_PERIODS * self.health_interval_s)


def passed(items: Sequence[Item]) -> bool:
    return all(i.status == "pass" for i in items)


def exit_code(items: Sequence[Item]) -> int:
    """0 only when every item passed; 1 when any failed; 3 when some only warn."""
    if passed(items):
        return 0
    return 1 if any(i.status == "fail" for i in items) else 3


# -- on the gateway ----------------------------------------------------------------------


def tls_config(plan: GatewayPlan, key_mode: int | None) -> Item:
    """Mutual TLS configured, its files present, the private key owner-only. ``key_mode`` is
    the key file's permission bits (None: missing)."""
    name = "mutual TLS"
    tls = plan.tls
    if tls is None:
        return Item(
            name,
            "fail",
            "broker.tls is not set: the agent talks MQTT in clear text, without a certificate",
            "enroll the gateway (kendali provision enroll) or set broker.tls "
            "(ca_file, cert_file, key_file) in the agent's configuration",
        )
    if tls.cert_file is None or tls.key_file is None:
        return Item(
            name,
            "fail",
            "broker.tls has no cert_file/key_file: the broker requires a client certificate",
            "set broker.tls.cert_file and key_file to this gateway's certificate and key",
        )
    missing = [str(p) for p in (tls.ca_file, tls.cert_file) if not p.is_file()]
    if key_mode is None:
        missing.append(str(tls.key_file))
    if missing:
        return Item(
            name,
            "fail",
            f"missing: {', '.join(missing)}",
            "enroll again (kendali provision enroll) or restore the files named",
        )
    if key_mode is not None and key_mode & 0o077:
        return Item(
            name,
            "fail",
            f"{tls.key_file} is readable by others (mode {key_mode:04o})",
            f"chmod 600 {tls.key_file} (and give the agent's user ownership of it)",
        )
    return Item(name, "pass", f"certificate {tls.cert_file}, key owner-only")


def _cn(cert: x509.Certificate) -> str:
    found = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else ""


def _issued_by_one_of(cert: x509.Certificate, cas: Sequence[x509.Certificate]) -> bool:
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def _client_auth(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no restriction at all
    return ExtendedKeyUsageOID.CLIENT_AUTH in eku


def _validity_problem(cert: x509.Certificate, now: datetime.datetime) -> Item | None:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        return Item(
            "certificate",
            "fail",
            f"not valid before {start:%Y-%m-%d %H:%M} UTC (this clock says {now:%Y-%m-%d %H:%M})",
            "set the gateway's clock (timedatectl; check NTP can reach its server)",
        )
    if end <= now:
        return Item("certificate", "fail", f"expired on {end:%Y-%m-%d}", ENROLL_AGAIN)
    return None


def _identity_problem(
    plan: GatewayPlan, cert: x509.Certificate, cas: Sequence[x509.Certificate]
) -> Item | None:
    cn = _cn(cert)
    if cn != plan.gateway_id:
        return Item(
            "certificate",
            "fail",
            f"issued to {cn!r}, but gateway_id is {plan.gateway_id!r}: the broker would confine "
            f"this gateway to {cn!r}'s topics",
            "use the certificate issued for this gateway, or set gateway_id to its name",
        )
    if not _client_auth(cert):
        return Item(
            "certificate", "fail", "not a client certificate (no clientAuth usage)", ENROLL_AGAIN
        )
    if cas and not _issued_by_one_of(cert, cas):
        return Item(
            "certificate",
            "fail",
            "not issued by a CA in ca_file: the broker will refuse it",
            "use the fleet's chain.pem as ca_file and a certificate from the fleet CA",
        )
    return None


def certificate(
    plan: GatewayPlan,
    cert_pem: bytes | None,
    ca_pem: bytes | None,
    now: datetime.datetime,
    warn_days: float = EXPIRY_WARN_DAYS,
) -> Item:
    """Valid now, not near its end, this gateway's identity, for clients, from the fleet CA."""
    name = "certificate"
    if cert_pem is None:
        return Item(name, "fail", "no certificate to read", "see the mutual TLS item")
    try:
        cert = x509.load_pem_x509_certificates(cert_pem)[0]
        cas = x509.load_pem_x509_certificates(ca_pem) if ca_pem else []
    except ValueError as exc:
        return Item(name, "fail", f"not a PEM certificate: {exc}", ENROLL_AGAIN)
    problem = _validity_problem(cert, now) or _identity_problem(plan, cert, cas)
    if problem is not None:
        return problem
    end = cert.not_valid_after_utc
    days = (end - now).total_seconds() / 86400
    detail = f"{_cn(cert)}, valid until {end:%Y-%m-%d} ({math.floor(days)} days left)"
    if days < warn_days:
        return Item(
            name,
            "warn",
            detail,
            "renewal should have replaced it by now: check the agent's log for renewal "
            "errors, or enroll again",
        )
    return Item(name, "pass", detail)


# -- the broker ---------------------------------------------------------------------------


def broker(plan: GatewayPlan, shake: Handshake | None) -> Item:
    name = "broker TLS"
    where = f"{plan.broker_host}:{plan.broker_port}"
    if shake is None:
        return Item(name, "fail", "not tried: no client certificate", "see the mutual TLS item")
    if shake.outcome == "accepted":
        return Item(name, "pass", f"{where} accepted this gateway's certificate ({shake.version})")
    if shake.outcome == "unreachable":
        return Item(
            name,
            "fail",
            f"cannot reach {where}: {shake.detail}",
            "check broker.host/port, DNS, the uplink and that the firewall lets TCP "
            f"{plan.broker_port} out",
        )
    if shake.outcome == "untrusted":
        return Item(
            name,
            "fail",
            f"{where}'s certificate does not verify against ca_file: {shake.detail}",
            "use the fleet's chain.pem as ca_file, and the host name in the broker's "
            "certificate as broker.host",
        )
    return Item(
        name,
        "fail",
        f"{where} refused this gateway's certificate: {shake.detail}",
        "it may be revoked, expired or from another CA: enroll again, or ask the command "
        "center to check the broker's log",
    )


# -- the controller's view -----------------------------------------------------------------


def online(plan: GatewayPlan, view: dict[str, Any] | None, controller_now: float) -> Item:
    """``view``: the controller's ``GET /gateways/{id}`` (None: unknown there);
    ``controller_now``: the controller's own clock, so a skewed gateway clock cannot fake
    "recently"."""
    name = "online at controller"
    if view is None:
        return Item(
            name,
            "fail",
            f"the controller does not know gateway {plan.gateway_id!r}",
            "check gateway_id is the name the gateway was enrolled with, then " + AGENT_FIX,
        )
    state = str(view.get("state") or "unknown")
    if state != "online":
        reason = f" ({view['state_reason']})" if view.get("state_reason") else ""
        return Item(name, "fail", f"state {state}{reason}", AGENT_FIX)
    seen = view.get("last_seen")
    age = controller_now - float(seen) if isinstance(seen, int | float) else None
    if age is None or age > plan.seen_within_s:
        said = "never" if age is None else f"{age:.0f} s ago"
        return Item(
            name,
            "fail",
            f"online, but last heard from {said}",
            "the link may be stalled: " + AGENT_FIX,
        )
    version = view.get("agent_version") or "?"
    return Item(name, "pass", f"online, last heard {max(age, 0):.0f} s ago (agent {version})")


def stale(name: str, why: str) -> Item:
    """An item that cannot be judged because an earlier one failed."""
    return Item(name, "fail", f"not checked: {why}", "fix the items above first")


def camera(cam_id: str, view: dict[str, Any] | None) -> Item:
    """``view``: the controller's ``GET /cameras/{gw}/{cam}`` (None: unknown there)."""
    name = f"camera {cam_id}"
    if view is None:
        return Item(
            name,
            "fail",
            "the controller has no health for this camera",
            "the agent may run another configuration: kendali config drift on the controller, "
            "then " + AGENT_FIX,
        )
    problems = [str(p) for p in view.get("problems") or []]
    up = view.get("up")
    if up is None:
        return Item(
            name,
            "fail",
            "not reported yet",
            "wait a minute for the agent's next health report; " + AGENT_FIX,
        )
    if not up:
        return Item(
            name,
            "fail",
            "; ".join(problems) or "stream down",
            "check the camera's power and cable, its address and credentials in the "
            "configuration (kendali cameras probe URL shows what it answers)",
        )
    fps = view.get("fps")
    figures = f"{fps:.1f} fps" if isinstance(fps, int | float) else "streaming"
    age = view.get("last_frame_age_s")
    if isinstance(age, int | float):
        figures += f", last frame {age:.1f} s ago"
    if problems:
        return Item(
            name,
            "warn",
            f"{figures}; {'; '.join(problems)}",
            "look at the picture (snapshot on the console): the lens may be covered, dirty, "
            "moved or dark",
        )
    return Item(name, "pass", figures)


def _latest(readings: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in sorted(readings, key=lambda r: r.get("ts") or 0):
        out[str(r.get("resource"))] = r
    return out


def _implausible(latest: dict[str, dict[str, Any]], profile: FirmwareProfile | None) -> list[str]:
    bad = []
    names = {r.name: r for r in profile.resources} if profile else {}
    for resource, r in sorted(latest.items()):
        value = r.get("value")
        if value is None:
            bad.append(f"{resource} invalid (the device sent no usable value)")
            continue
        spec = names.get(resource)
        if spec is None or isinstance(value, str | bool) or not isinstance(value, int | float):
            continue
        unit = f" {r.get('unit')}" if r.get("unit") else ""
        if spec.min is not None and value < spec.min:
            bad.append(f"{resource} {value}{unit} below {spec.min}")
        elif spec.max is not None and value > spec.max:
            bad.append(f"{resource} {value}{unit} above {spec.max}")
    return bad


def reading_window_s(plan: SensorPlan) -> float:
    return max(READING_MIN_WINDOW_S, 3 * plan.poll_interval_s)


def sensor(
    plan: SensorPlan,
    view: dict[str, Any] | None,
    readings: Sequence[dict[str, Any]],
    profile: FirmwareProfile | None,
    now: float,
) -> Item:
    """A recent reading of every resource the sensor reports, each within its profile's
    range. ``view``: ``GET /sensors/{gw}/{id}``; ``readings``: its recent readings; ``now``:
    this gateway's clock (readings carry the agent's timestamps)."""
    name = f"sensor {plan.id}"
    if view is None:
        return Item(
            name,
            "fail",
            "the controller has no health for this sensor",
            "the agent may run another configuration: kendali config drift on the controller, "
            "then " + AGENT_FIX,
        )
    state = str(view.get("state") or "")
    wiring = (
        f"check the cable and the port in the configuration, the device's power, and its "
        f"serial settings against the {plan.profile} profile (kendali sensors probe PORT)"
    )
    if state and state not in SENSOR_OK_STATES:
        said = "; ".join(str(p) for p in view.get("problems") or [])
        return Item(name, "fail", said or f"state {state}", wiring)
    window = reading_window_s(plan)
    recent = [
        r for r in readings if isinstance(r.get("ts"), int | float) and now - r["ts"] <= window
    ]
    if not recent:
        return Item(name, "fail", f"no reading in the last {window:.0f} s", wiring)
    latest = _latest(recent)
    bad = _implausible(latest, profile)
    if bad:
        return Item(
            name,
            "fail",
            "; ".join(bad),
            f"check that the device is a {plan.profile} and how it is set (range, decimals, "
            "units, mounting height); a wrong profile reads garbage that looks like numbers",
        )
    measured = {k: r for k, r in latest.items() if r.get("unit")} or latest
    shown = ", ".join(
        f"{k} {r.get('value')}{' ' + str(r['unit']) if r.get('unit') else ''}"
        for k, r in sorted(measured.items())[:SHOWN_MAX]
    )
    problems = [str(p) for p in view.get("problems") or []]
    if problems:
        return Item(name, "warn", f"{shown}; {'; '.join(problems)}", wiring)
    return Item(name, "pass", shown)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _answered(name: str, row: dict[str, Any]) -> Item:
    """A done ping: its round trip, and the agent's clock against the controller's (commands
    carry an expiry both clocks judge)."""
    rtt = _number(row.get("rtt_ms"))
    took = f"controller -> agent -> controller in {rtt:.0f} ms" if rtt is not None else "answered"
    answer = row.get("result")
    inner = answer.get("result") if isinstance(answer, dict) else None
    agent_time = _number(inner.get("agent_time")) if isinstance(inner, dict) else None
    sent, done = _number(row.get("sent_at")), _number(row.get("finished_at"))
    if agent_time is None:
        return Item(
            name, "warn", f"{took}, but the answer carries no agent_time", "update the agent"
        )
    if sent is None or done is None:
        return Item(name, "pass", took)
    skew = agent_time - (sent + done) / 2
    if abs(skew) > CLOCK_SKEW_WARN_S:
        return Item(
            name,
            "warn",
            f"{took}; the gateway's clock is {skew:+.0f} s off the controller's",
            "set the clock: timedatectl, and check NTP reaches its server (commands expire "
            "by the clock, and certificates are judged by it)",
        )
    return Item(name, "pass", took)


def round_trip(row: dict[str, Any] | None, waited_s: float) -> Item:
    """``row``: the command's ``GET /commands/{id}`` after waiting (None: never created)."""
    name = "round trip (ping)"
    if row is None:
        return Item(name, "fail", "the command was not created", "see the error above")
    status = str(row.get("status") or "")
    if status == "done":
        return _answered(name, row)
    result = row.get("result") or {}
    why = result.get("error") or result.get("reason") if isinstance(result, dict) else None
    if status in ("pending", "sent"):
        detail = f"no answer within {waited_s:.0f} s (command {status})"
    else:
        detail = f"command {status}" + (f": {why}" if why else "")
    return Item(
        name,
        "fail",
        detail,
        "the agent does not receive the controller's commands: " + AGENT_FIX,
    )
