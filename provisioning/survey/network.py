"""The network half of a survey: DNS, the controller (reach, clock, latency, upload) and the
broker (TCP, TLS). Each item becomes one :class:`Check`; nothing here raises for a network
failure, the check says it failed and what to try."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from provisioning.survey import netcheck
from provisioning.survey.api import ApiFailure, ControllerApi, Timed
from provisioning.survey.report import Check, Status

Resolver = Callable[..., list[Any]]


@dataclass
class NetworkPlan:
    controller: ControllerApi | None = None
    broker_host: str | None = None
    broker_port: int = 8883
    broker_ca: str | None = None
    broker_cert: str | None = None
    broker_key: str | None = None
    samples: int = 5
    upload_bytes: int = 1024 * 1024
    timeout_s: float = 5.0
    limits: netcheck.Limits = field(default_factory=netcheck.Limits)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def dns_check(role: str, host: str, resolve: Resolver = socket.getaddrinfo) -> Check:
    name = f"dns {role}"
    if _is_address(host):
        return Check(name, Status.OK, f"{host} is an address (nothing to resolve)")
    try:
        infos = resolve(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return Check(
            name,
            Status.FAIL,
            f"{host} does not resolve ({exc})",
            "check the gateway's DNS server (resolvectl status) and the host name's spelling",
        )
    addresses = sorted({str(info[4][0]) for info in infos})
    return Check(name, Status.OK, f"{host} -> {', '.join(addresses)}")


def controller_checks(api: ControllerApi, plan: NetworkPlan) -> list[Check]:
    """Reach (healthz, no login), then clock, latency and upload. Without a login the clock is
    read from the HTTP Date header (whole seconds), latency from /healthz, and the upload test
    is skipped (it needs an account)."""
    try:
        first = api.healthz()
    except ApiFailure as exc:
        fix = (
            "check the uplink (SIM, APN, cable), the --controller URL and that the controller "
            f"runs: curl {api.url}/healthz"
        )
        down = "controller unreachable"
        return [
            Check("controller", Status.FAIL, str(exc), fix),
            *(Check(n, Status.SKIP, down) for n in ("clock", "latency", "uplink")),
        ]
    checks = [Check("controller", Status.OK, f"{api.url} answers ({first.seconds * 1000:.0f} ms)")]
    if not api.token:
        checks.append(_clock_from_date(first, plan))
        samples = _samples(api.healthz, plan.samples)
        checks.append(netcheck.latency_check(samples, plan.limits, "/healthz"))
        checks.append(Check("uplink", Status.SKIP, "needs a login (--token or --user)"))
        return checks
    try:
        echoed = api.echo()
    except ApiFailure as exc:
        fix = "log in with an account the controller knows (--user or --token)"
        checks += [
            Check("clock", Status.FAIL, f"survey echo refused: {exc}", fix),
            Check("latency", Status.SKIP, "survey echo refused"),
            Check("uplink", Status.SKIP, "survey echo refused"),
        ]
        return checks
    offset = netcheck.clock_offset(
        echoed.sent_at, echoed.received_at, float(echoed.body["server_time"])
    )
    checks.append(netcheck.clock_check(offset, plan.limits, "survey echo"))
    checks.append(
        netcheck.latency_check(_samples(api.echo, plan.samples), plan.limits, "/survey/echo")
    )
    checks.append(_uplink(api, plan))
    return checks


def _samples(call: Callable[[], object], count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.monotonic()
        try:
            call()
        except ApiFailure:
            continue
        out.append(time.monotonic() - started)
    return out


def _clock_from_date(first: Timed, plan: NetworkPlan) -> Check:
    """The HTTP Date header has whole seconds: the server's time is taken as the middle of
    its second, and an offset within that second's uncertainty is not warned about."""
    try:
        server = parsedate_to_datetime(first.date_header).timestamp()
    except (TypeError, ValueError):
        return Check("clock", Status.SKIP, "the controller sent no Date header")
    offset = netcheck.clock_offset(first.sent_at, first.received_at, server + 0.5)
    check = netcheck.clock_check(offset, plan.limits, "HTTP Date header, +-1 s")
    if check.status == Status.WARN and abs(offset) <= plan.limits.clock_warn_s + 1:
        check.status = Status.OK
    return check


def _uplink(api: ControllerApi, plan: NetworkPlan) -> Check:
    try:
        done = api.uplink(plan.upload_bytes)
    except ApiFailure as exc:
        return Check("uplink", Status.FAIL, f"upload test refused: {exc}", "see the detail")
    received = int(done.body.get("received", 0))
    if received != plan.upload_bytes:
        return Check(
            "uplink",
            Status.FAIL,
            f"controller got {received} of {plan.upload_bytes}",
            "a proxy on the path cuts uploads: check the APN or proxy settings",
        )
    return netcheck.uplink_check(plan.upload_bytes, done.seconds, plan.limits)


def broker_checks(plan: NetworkPlan) -> list[Check]:
    host, port = plan.broker_host, plan.broker_port
    if not host:
        return []
    target = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=plan.timeout_s)
    except OSError as exc:
        fix = (
            f"the broker port must be open from here: check the firewall/APN for TCP {port} "
            "and that the broker runs"
        )
        checks = [Check("broker tcp", Status.FAIL, f"{target}: {exc.strerror or exc}", fix)]
        if plan.broker_ca:
            checks.append(Check("broker tls", Status.SKIP, "no TCP connection"))
        return checks
    with sock:
        checks = [Check("broker tcp", Status.OK, f"{target} accepts connections")]
    if plan.broker_ca:
        checks.append(tls_check(plan))
    return checks


def tls_check(plan: NetworkPlan) -> Check:
    """A TLS handshake that verifies the broker's certificate against ``broker_ca`` and its
    name. A broker that wants a client certificate (mutual TLS) and gets none ends the
    handshake after we verified it: the server side is fine, so that is ok with a note."""
    host = plan.broker_host or ""
    try:
        context = ssl.create_default_context(cafile=plan.broker_ca)
        if plan.broker_cert and plan.broker_key:
            context.load_cert_chain(plan.broker_cert, plan.broker_key)
    except (OSError, ssl.SSLError) as exc:
        return Check(
            "broker tls",
            Status.FAIL,
            f"cannot load the CA or certificate: {exc}",
            "give the fleet CA file (ca.crt) with --broker-ca",
        )
    try:
        version, wanted = _handshake(plan, context)
    except ssl.SSLCertVerificationError as exc:
        return Check(
            "broker tls",
            Status.FAIL,
            f"broker certificate not trusted: {exc.verify_message}",
            "the broker's certificate must be signed by the CA given with --broker-ca "
            "for this host name (kendali ca issue)",
        )
    except ssl.SSLError as exc:
        if not _wants_client_cert(exc):
            return Check(
                "broker tls",
                Status.FAIL,
                f"TLS handshake failed: {exc.reason}",
                "check that the port is the broker's TLS listener (8883)",
            )
        version, wanted = None, True
    except OSError as exc:
        return Check("broker tls", Status.FAIL, f"TLS connection failed: {exc}", "check the port")
    if wanted:
        return _client_cert_wanted(version)
    return Check("broker tls", Status.OK, f"{version}: broker certificate verified for {host}")


def _wants_client_cert(exc: ssl.SSLError) -> bool:
    """The alert a broker with ``require_certificate`` sends a client without one (TLS 1.3:
    certificate required; TLS 1.2: handshake failure, after we verified its certificate)."""
    text = str(exc).upper()
    return "CERTIFICATE_REQUIRED" in text or "HANDSHAKE_FAILURE" in text


def _handshake(plan: NetworkPlan, context: ssl.SSLContext) -> tuple[str | None, bool]:
    """(TLS version, whether the broker then refused us for lacking a client certificate)."""
    host = (plan.broker_host or "").strip("[]")
    with (
        socket.create_connection((host, plan.broker_port), timeout=plan.timeout_s) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        version = tls.version()
        try:
            tls.settimeout(0.5)
            tls.recv(1)  # TLS 1.3 sends a missing-client-certificate alert only now
        except ssl.SSLError as exc:
            return version, _wants_client_cert(exc)
        except OSError:  # a timeout: the broker waits for our MQTT CONNECT, all is well
            pass
    return version, False


def _client_cert_wanted(version: str | None) -> Check:
    return Check(
        "broker tls",
        Status.OK,
        f"{version or 'TLS'}: broker certificate verified; it asks for a client certificate "
        "(mutual TLS), which enrollment gives the gateway",
    )


def run_checks(plan: NetworkPlan, resolve: Resolver = socket.getaddrinfo) -> list[Check]:
    checks: list[Check] = []
    if plan.controller is not None:
        host = urlsplit(plan.controller.url).hostname or ""
        checks.append(dns_check("controller", host, resolve))
    if plan.broker_host:
        checks.append(dns_check("broker", plan.broker_host, resolve))
    if plan.controller is not None:
        checks += controller_checks(plan.controller, plan)
    checks += broker_checks(plan)
    return checks
