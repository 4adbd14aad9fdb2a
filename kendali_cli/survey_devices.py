"""The device half of a site survey: ONVIF cameras found by WS-Discovery and visited with the
technician's credentials, serial ports identified by evidence. Progress goes to stderr."""

from __future__ import annotations

import glob
import ipaddress
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import typer

if TYPE_CHECKING:
    from agent.cameras.discovery import Discovered
    from agent.cameras.onvif_models import ProbeResult
    from provisioning.survey.report import CameraFinding, SensorFinding

WSD_PORT = 3702
MAX_SCAN = 1024
DEFAULT_SERIAL_GLOBS = ("/dev/ttyUSB*", "/dev/ttyACM*")
SNAPSHOT_MAX_BYTES = 280_000
SNAPSHOT_MAX_WIDTH = 1280

Secrets = dict[str, tuple[str, str]]
_echo_lock = threading.Lock()


def progress(text: str) -> None:
    """One progress line on stderr (threads share it; device text escaped)."""
    from common.text import escape_controls

    with _echo_lock:
        typer.echo(escape_controls(text), err=True)


# --- credentials --------------------------------------------------------------------------------


def parse_credentials(pairs: list[str]) -> Secrets:
    """``user:pass`` pairs, labelled ``cred1``, ``cred2`` … in the order given; each password is
    registered for redaction before anything can print it."""
    from common.redact import register_secret

    secrets: Secrets = {}
    for index, pair in enumerate(pairs):
        user, sep, password = pair.partition(":")
        if not sep or not user or not password:
            raise typer.BadParameter(
                f"credential #{index + 1} is not USER:PASSWORD", param_hint="--credentials"
            )
        register_secret(password)
        secrets[f"cred{index + 1}"] = (user, password)
    return secrets


# --- camera discovery ---------------------------------------------------------------------------


def parse_host(text: str) -> tuple[str, int]:
    """HOST or HOST:PORT (the WS-Discovery UDP port, 3702 by default)."""
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        host, port = text, str(WSD_PORT)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{text!r} is not HOST[:PORT]", param_hint="--camera-host")
    try:  # replies come from an address: a name is resolved once, here
        address = socket.gethostbyname(host)
    except OSError as exc:
        raise typer.BadParameter(f"{host!r} does not resolve", param_hint="--camera-host") from exc
    return address, int(port)


def _interface_networks() -> dict[str, list[ipaddress.IPv4Interface]]:
    import psutil

    out: dict[str, list[ipaddress.IPv4Interface]] = {}
    for name, addrs in psutil.net_if_addrs().items():
        for addr in addrs:
            if addr.family == socket.AF_INET and addr.netmask:
                out.setdefault(name, []).append(
                    ipaddress.IPv4Interface(f"{addr.address}/{addr.netmask}")
                )
    return out


def scan_targets(cidr: str, port: int) -> list[tuple[str, int]]:
    """Every address of ``cidr`` when it lies on one of this machine's interfaces (a survey
    probes the pole's own segment, never someone else's network), at most ``MAX_SCAN``."""
    try:
        network = ipaddress.IPv4Network(cidr, strict=False)
    except ValueError as exc:
        raise typer.BadParameter(f"{cidr!r} is not an IPv4 network", param_hint="--scan") from exc
    if network.num_addresses > MAX_SCAN:
        raise typer.BadParameter(
            f"{cidr} has {network.num_addresses} addresses; scan at most {MAX_SCAN} (/22)",
            param_hint="--scan",
        )
    local = [i.network for nets in _interface_networks().values() for i in nets]
    if not any(network.subnet_of(n) for n in local):
        shown = ", ".join(str(n) for n in local) or "none"
        raise typer.BadParameter(
            f"{cidr} is not on an interface of this gateway (its networks: {shown})",
            param_hint="--scan",
        )
    hosts = list(network.hosts()) if network.num_addresses > 2 else list(network)
    return [(str(h), port) for h in hosts]


def interface_address(name: str) -> str:
    nets = _interface_networks().get(name)
    if not nets:
        known = ", ".join(sorted(_interface_networks())) or "none"
        raise typer.BadParameter(
            f"no IPv4 interface {name!r} (interfaces: {known})", param_hint="--discover"
        )
    return str(nets[0].ip)


def discover_cameras(
    targets: list[tuple[str, int]], multicast_from: str | None, wait_s: float, *, early: bool
) -> tuple[list[Discovered], set[tuple[str, int]]]:
    """Send both WS-Discovery probes to every target (unicast) and, with ``multicast_from``,
    to the multicast group through that interface address; collect ProbeMatches for
    ``wait_s``. With named targets only, stops as soon as each has answered. Returns the
    devices and the targets that answered."""
    from agent.cameras.discovery import MULTICAST, TYPES, parse_matches, probe_message

    ids = {str(uuid.uuid4()): prefix for prefix in TYPES}
    found: dict[str, Discovered] = {}
    answered: set[tuple[str, int]] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        destinations = list(targets)
        if multicast_from is not None:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(multicast_from)
            )
            destinations.append(MULTICAST)
        for destination in destinations:
            for message_id, prefix in ids.items():
                try:
                    sock.sendto(probe_message(prefix, TYPES[prefix], message_id), destination)
                except OSError as exc:
                    progress(f"discovery: cannot send to {destination[0]}: {exc.strerror}")
        deadline = time.monotonic() + wait_s
        settle: float | None = None
        while (left := min(deadline, settle or deadline) - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, source = sock.recvfrom(65_535)
            except TimeoutError:
                break
            except OSError:  # ICMP unreachable from a unicast target: others may still answer
                continue
            parsed = parse_matches(data, source[0])
            if parsed is None or parsed[0].removeprefix("urn:uuid:") not in ids:
                continue
            answered.add((source[0], source[1]))
            device = parsed[1]
            key = device.endpoint or f"{source[0]}:{source[1]}"
            if key in found:
                merged = found[key]
                merged.xaddrs = list(dict.fromkeys(merged.xaddrs + device.xaddrs))
            else:
                found[key] = device
            if early and not unanswered(targets, answered) and settle is None:
                settle = time.monotonic() + 0.2  # the second probe type's answer
    return list(found.values()), answered


def unanswered(
    named: list[tuple[str, int]], answered: set[tuple[str, int]]
) -> list[tuple[str, int]]:
    """The named targets no reply came from. Many cameras answer from an ephemeral port rather
    than 3702, so a reply from the target's host counts, unless several targets share that
    host (simulators on one machine), where only the exact port tells them apart."""
    hosts = [host for host, _ in named]
    replied = {host for host, _ in answered}
    return [
        (host, port)
        for host, port in named
        if (host, port) not in answered and (hosts.count(host) > 1 or host not in replied)
    ]


# --- one camera ---------------------------------------------------------------------------------


def _fill(finding: CameraFinding, result: ProbeResult) -> None:
    from common.redact import redact
    from provisioning.survey.report import CameraState, StreamRow

    info = result.device
    finding.manufacturer, finding.model = info.manufacturer, info.model
    finding.firmware, finding.serial = info.firmware, info.serial
    finding.identity_certain = info.identity_certain
    finding.clock_skew_s = result.clock_skew_s
    finding.state = CameraState.OK if info.identity_certain else CameraState.UNSURE
    finding.streams = [
        StreamRow(s.token, s.name, s.encoding, s.width, s.height, s.fps, redact(s.uri))
        for s in result.streams
    ]
    finding.notes = list(result.notes)


def _snapshot(
    result: ProbeResult, user: str, password: str, timeout_s: float
) -> tuple[bytes | None, str]:
    """The camera's own snapshot URI first; without one, a frame from its RTSP stream."""
    import base64

    from agent.cameras.errors import CameraError
    from agent.cameras.snapshot import fetch_snapshot, snapshot_from_jpeg

    reason = "the camera offers no snapshot URI"
    if result.snapshot_uri:
        try:
            data = fetch_snapshot(result.snapshot_uri, user, password, timeout_s)
            snap = snapshot_from_jpeg(data, SNAPSHOT_MAX_BYTES, SNAPSHOT_MAX_WIDTH)
            return base64.b64decode(snap.data_b64), ""
        except (CameraError, ValueError) as exc:
            reason = f"snapshot URI failed: {exc}"
    stream = result.sub or result.main
    if stream is None or not stream.uri.startswith("rtsp"):
        return None, reason
    try:
        return _frame_from_stream(stream.uri, user, password, timeout_s), ""
    except (CameraError, ValueError) as exc:
        return None, f"{reason}; stream frame failed: {exc}"


def _frame_from_stream(uri: str, user: str, password: str, timeout_s: float) -> bytes:
    import base64

    from agent.cameras.capture import OpenCVSource
    from agent.cameras.config import DecodeMode
    from agent.cameras.snapshot import encode_jpeg

    source = OpenCVSource(
        uri,
        username=user,
        password=password,
        open_timeout_s=timeout_s * 2,
        read_timeout_s=timeout_s,
        decode=DecodeMode.BGR,
    )
    source.open()
    try:
        image = source.read()
    finally:
        source.close()
    return base64.b64decode(encode_jpeg(image, SNAPSHOT_MAX_BYTES, SNAPSHOT_MAX_WIDTH).data_b64)


def without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def visit_camera(device: Discovered, secrets: Secrets, timeout_s: float) -> CameraFinding:
    """Try each credential pair in the order given until one is accepted (a refused pair is
    never retried: cameras lock accounts); an unreadable identity is kept as "unsure"."""
    from agent.cameras.errors import AuthError, CameraError
    from agent.cameras.onvif_client import OnvifClient
    from common.redact import redact
    from provisioning.survey.report import CameraFinding, CameraState

    url = device.device_url or ""
    # only the user-info part is dropped: masking known secrets inside the address could
    # mangle it (a password "onvif" would), and the proposed configuration is built from it
    finding = CameraFinding(address=device.address, device_url=without_userinfo(url))
    if not url:
        finding.state, finding.detail = CameraState.ERROR, "discovery reply carried no XAddr"
        return finding
    attempts = list(secrets.items()) or [("", ("", ""))]
    refused: list[str] = []
    last = ""
    for label, (user, password) in attempts:
        progress(f"camera {finding.device_url}: trying {label or 'no credentials'}")
        try:
            result = OnvifClient(url, user, password, timeout_s=timeout_s).probe()
        except AuthError as exc:
            refused.append(label or "no credentials")
            last = str(exc)
            continue
        except CameraError as exc:
            finding.state, finding.detail = CameraState.ERROR, redact(str(exc))
            return finding
        _fill(finding, result)
        finding.credential, finding.username = label, user
        finding.snapshot_jpeg, finding.snapshot_note = _snapshot(result, user, password, timeout_s)
        return finding
    finding.state = CameraState.CREDENTIALS_REFUSED
    hint = " (give the camera's login with --credentials USER:PASS)" if not secrets else ""
    finding.detail = redact(f"tried {', '.join(refused)}{hint}: {last}")
    return finding


def survey_cameras(
    named: list[tuple[str, int]],
    scanned: list[tuple[str, int]],
    *,
    multicast_from: str | None,
    secrets: Secrets,
    wait_s: float,
    timeout_s: float,
) -> list[CameraFinding]:
    from provisioning.survey.report import CameraFinding, CameraState

    targets = list(dict.fromkeys(named + scanned))
    if not targets and multicast_from is None:
        return []
    progress(
        f"cameras: WS-Discovery to {len(targets)} address(es)"
        + (" and the multicast group" if multicast_from else "")
    )
    early = not scanned and multicast_from is None
    devices, answered = discover_cameras(targets, multicast_from, wait_s, early=early)
    devices.sort(key=lambda d: (d.address, d.device_url or ""))
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="survey-camera") as pool:
        findings = list(pool.map(lambda d: visit_camera(d, secrets, timeout_s), devices))
    # a host the technician named (not a scanned range) that never answered is a finding too
    for host, port in unanswered(named, answered):
        findings.append(
            CameraFinding(
                address=f"{host}:{port}",
                state=CameraState.NO_ANSWER,
                detail="no WS-Discovery answer: check power, cable and address; some "
                "cameras need ONVIF (and discovery) switched on in their web page",
            )
        )
    return findings


# --- sensors ------------------------------------------------------------------------------------


def default_ports() -> list[str]:
    return sorted({p for pattern in DEFAULT_SERIAL_GLOBS for p in glob.glob(pattern)})


def probe_sensor(port: str, profile_names: list[str] | None, timeout_s: float) -> SensorFinding:
    from agent.sensors.probe import probe_port
    from firmware_profiles import Protocol, shipped_profiles
    from provisioning.survey.report import SensorFinding

    profiles = shipped_profiles()
    if profile_names:
        profiles = {k: v for k, v in profiles.items() if k in profile_names}

    def trying(model: str, index: int, total: int) -> None:
        progress(f"{port}: trying {model} ({index + 1}/{total})")

    result = probe_port(port, profiles, timeout_s, progress=trying)
    finding = SensorFinding(
        port=port,
        verdict=result.verdict,
        stable_name=result.stable_name,
        profile=result.profile,
        protocol=result.protocol,
        firmware=result.firmware,
        detail=result.error,
        evidence=list(result.evidence),
        candidates=list(result.candidates),
        readings=list(result.readings),
    )
    if result.error and len(result.tried) < len(profiles):
        finding.verdict = "error"  # the port itself failed (busy, missing, no permission)
    if result.profile is not None:
        profile = profiles[result.profile]
        finding.baudrate = profile.serial.baudrate
        if profile.protocol == Protocol.MODBUS_RTU and profile.modbus is not None:
            finding.address = profile.modbus.default_address
    progress(f"{port}: {finding.verdict} {finding.profile or ''}".rstrip())
    return finding


def survey_sensors(
    ports: list[str], profile_names: list[str] | None, timeout_s: float
) -> list[SensorFinding]:
    """Every port in parallel (each is its own line), every candidate profile on each."""
    if not ports:
        return []
    with ThreadPoolExecutor(
        max_workers=min(8, len(ports)), thread_name_prefix="survey-serial"
    ) as pool:
        return list(pool.map(lambda p: probe_sensor(p, profile_names, timeout_s), ports))
