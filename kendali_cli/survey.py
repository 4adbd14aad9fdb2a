"""`kendali provision survey`: find and check what is wired to this gateway, propose its
configuration, and print (or write) a report the technician can hand over.

The orchestration lives here because it drives the agent's own probes (ONVIF client,
WS-Discovery, snapshot fetch, serial identification); the report model, the proposed
configuration, the network checks and the renderers are plain code in ``provisioning.survey``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kendali_cli.survey_devices import (
    WSD_PORT,
    Secrets,
    default_ports,
    interface_address,
    parse_credentials,
    parse_host,
    progress,
    scan_targets,
    survey_cameras,
    survey_sensors,
)

if TYPE_CHECKING:
    from provisioning.survey.api import ControllerApi
    from provisioning.survey.report import ConfigOutcome


# --- the proposed configuration -----------------------------------------------------------------


def _write_owner_only(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def validate_and_write(document: dict[str, Any], out: Path | None) -> list[str]:
    """Run the document through the agent's own loader (from a file, as the agent reads it);
    when it passes and ``out`` is given, move it into place (owner-only: it holds camera
    passwords). Returns the loader's problems, one per field."""
    import yaml

    from agent.config import AgentConfig
    from common.configfile import ConfigError, load

    directory = out.parent if out is not None else None
    text = "# proposed by kendali provision survey\n" + yaml.safe_dump(document, sort_keys=False)
    handle, name = tempfile.mkstemp(prefix=".survey-", suffix=".yaml", dir=directory)  # 0600
    os.close(handle)
    tmp = Path(name)
    try:
        _write_owner_only(tmp, text)
        load(tmp, AgentConfig)
        if out is not None:
            os.replace(tmp, out)
        return []
    except ConfigError as exc:
        lines = str(exc).splitlines()[1:] or [str(exc)]
        return [line.strip() for line in lines]
    finally:
        tmp.unlink(missing_ok=True)


def _writable_dir(path: Path | None, option: str) -> None:
    """Checked before the survey starts, not found out after ten minutes of probing."""
    if path is not None and not os.access(path.parent, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"cannot write into {path.parent}", param_hint=option)


def send_to_controller(
    api: ControllerApi, outcome: ConfigOutcome, sections: dict[str, Any], started_at: str
) -> None:
    from provisioning.survey.api import ApiFailure
    from provisioning.survey.proposal import gateway_layer

    gid = outcome.gateway_id
    try:
        version, existing = api.layer(gid)
        done = api.put_layer(
            gid, gateway_layer(existing, sections), version, f"site survey {started_at}"
        )
    except ApiFailure as exc:
        outcome.send_error = str(exc)
        outcome.send_fix = {
            0: "the controller is unreachable: the file (--out) is the copy to hand over",
            401: "log in again (--user or a fresh --token)",
            403: "writing a gateway's configuration needs an admin account",
            404: f"the controller does not know gateway {gid} yet: enroll it first "
            "(kendali provision enroll), then run the survey again",
            409: "someone changed the gateway's configuration meanwhile: run the survey again",
        }.get(exc.status, "see the detail")
        return
    outcome.sent = {
        "scope": done.get("scope"),
        "layer_version": done.get("layer_version"),
        "sections": ["cameras", "sensors.sensors"],
        "cameras": outcome.cameras,
        "sensors": outcome.sensors,
        "gateways_changed": [c.get("gateway_id") for c in done.get("changes", [])],
    }


# --- the command --------------------------------------------------------------------------------

Multi = list[str] | None
OptPath = Path | None


def _opt(*names: str, **kw: Any) -> Any:
    return typer.Option(*names, **kw)


CameraHosts = Annotated[
    Multi,
    _opt(
        "--camera-host",
        help="Probe this camera unicast: HOST or HOST:PORT (its WS-Discovery UDP port, 3702 by "
        "default). Repeatable.",
    ),
]
Scan = Annotated[
    str | None,
    _opt(
        "--scan",
        help="Probe every address of this IPv4 network unicast on --discovery-port; it must lie on "
        "one of this gateway's interfaces, at most /22.",
    ),
]
Discover = Annotated[
    str | None,
    _opt(
        "--discover",
        help="Also send the WS-Discovery probe to the multicast group through this interface "
        "(e.g. eth0). In the field only: it reaches every camera on that segment.",
    ),
]
DiscoveryPort = Annotated[int, _opt(min=1, max=65535, help="WS-Discovery UDP port for --scan.")]
Credentials = Annotated[
    Multi,
    _opt(
        "--credentials",
        envvar="KENDALI_SURVEY_CREDENTIALS",
        help="Camera login USER:PASS to try, in order; repeatable. Never printed: the report names "
        "a pair by its place (cred1, cred2). Safer in KENDALI_SURVEY_CREDENTIALS (pairs separated "
        "by spaces) than on the command line, where other users can read it.",
    ),
]
Serial = Annotated[
    Multi,
    _opt(
        "--serial",
        help="Serial port (or pyserial URL) to probe; repeatable. Default: every /dev/ttyUSB* and "
        "/dev/ttyACM*.",
    ),
]
NoSerial = Annotated[
    bool, _opt("--no-serial", help="Probe no serial port (a gateway with cameras only).")
]
SensorProfiles = Annotated[
    Multi,
    _opt(
        "--sensor-profile", help="Only try these sensor profiles (default: every shipped profile)."
    ),
]
Controller = Annotated[
    str | None,
    _opt(
        "--controller",
        help="Controller URL (e.g. https://ctl.example:8080): the network checks run against it "
        "and, with a login, the proposed configuration is sent to it.",
    ),
]
Token = Annotated[
    str | None,
    _opt(
        "--token",
        envvar="KENDALI_API_TOKEN",
        show_default=False,
        help="API token (better: the KENDALI_API_TOKEN variable).",
    ),
]
User = Annotated[
    str | None,
    _opt(
        "--user",
        help="API user to log in as; the password comes from KENDALI_API_PASSWORD or is asked.",
    ),
]
ControllerCa = Annotated[
    OptPath,
    _opt(
        "--controller-ca",
        exists=True,
        dir_okay=False,
        help="CA file for an https controller whose certificate a private CA signed.",
    ),
]
Broker = Annotated[
    str | None,
    _opt(
        "--broker",
        help="Broker HOST[:PORT] (port 8883 by default): DNS and TCP checks, and TLS with "
        "--broker-ca.",
    ),
]
BrokerCa = Annotated[
    OptPath,
    _opt(
        "--broker-ca",
        exists=True,
        dir_okay=False,
        help="Fleet CA file: check the broker's TLS certificate and name against it.",
    ),
]
GatewayIdOpt = Annotated[
    str | None,
    _opt(
        "--gateway-id", help="This gateway's id (default: from --base-config, else the host name)."
    ),
]
BaseConfig = Annotated[
    OptPath,
    _opt(
        "--base-config",
        exists=True,
        dir_okay=False,
        help="The gateway's bootstrap agent.yaml (as enrollment wrote it): the proposal keeps its "
        "gateway id, broker and outbox and replaces its cameras and sensors.",
    ),
]
Out = Annotated[
    OptPath,
    _opt(
        "--out",
        help="Write the proposed agent configuration here (YAML, owner-only: it holds the camera "
        "passwords, as the agent's configuration does).",
    ),
]
Html = Annotated[
    OptPath,
    _opt("--html", help="Write a self-contained HTML report (snapshots embedded) to this file."),
]
AsJson = Annotated[bool, _opt("--json", help="Print the report as JSON instead of the table.")]
Wait = Annotated[float, _opt(min=0.2, max=30, help="Seconds to collect WS-Discovery answers.")]
Timeout = Annotated[float, _opt(min=0.2, max=60, help="Seconds per camera or controller request.")]
SensorTimeout = Annotated[
    float, _opt(min=0.05, max=10, help="Sensor reply timeout per attempt (s).")
]
Samples = Annotated[int, _opt(min=1, max=50, help="Requests for the latency median.")]
UploadKib = Annotated[
    int,
    _opt(min=16, max=8192, help="Upload test size in KiB (the controller takes at most 8 MiB)."),
]
ClockWarn = Annotated[
    float,
    _opt(
        min=0.1, max=300, help="Warn when the clock is further off than this (s); over 300 s fails."
    ),
]
LatencyWarn = Annotated[float, _opt(min=1, max=10_000, help="Warn above this median latency (ms).")]
UplinkWarn = Annotated[
    float, _opt(min=0.01, max=10_000, help="Warn below this upload rate (Mbit/s).")
]


def survey(  # noqa: PLR0917 - typer maps each parameter to an option
    camera_host: CameraHosts = None,
    scan: Scan = None,
    discover: Discover = None,
    discovery_port: DiscoveryPort = WSD_PORT,
    credentials: Credentials = None,
    serial: Serial = None,
    no_serial: NoSerial = False,
    sensor_profile: SensorProfiles = None,
    controller: Controller = None,
    token: Token = None,
    user: User = None,
    controller_ca: ControllerCa = None,
    broker: Broker = None,
    broker_ca: BrokerCa = None,
    gateway_id: GatewayIdOpt = None,
    base_config: BaseConfig = None,
    out: Out = None,
    html: Html = None,
    as_json: AsJson = False,
    wait: Wait = 3.0,
    timeout: Timeout = 5.0,
    sensor_timeout: SensorTimeout = 0.5,
    samples: Samples = 5,
    upload_kib: UploadKib = 1024,
    clock_warn: ClockWarn = 2.0,
    latency_warn: LatencyWarn = 300.0,
    uplink_warn: UplinkWarn = 1.0,
) -> None:
    """Site survey: cameras, sensors and network here; propose this gateway's configuration.

    Finds the ONVIF cameras (trying the logins given) and identifies the serial sensors by
    evidence, checks the clock, DNS, broker and uplink against the controller, then proposes
    the configuration: sent to the controller with a login, written with
    --out. Exit 1 when a required item failed, 2 for bad options."""
    from kendali_cli.core import fail
    from provisioning.survey import netcheck
    from provisioning.survey.api import ApiFailure, ControllerApi
    from provisioning.survey.network import NetworkPlan, run_checks
    from provisioning.survey.report import SurveyReport

    secrets = parse_credentials(credentials or [])
    _writable_dir(out, "--out")
    _writable_dir(html, "--html")
    named = [parse_host(h) for h in camera_host or []]
    scanned = scan_targets(scan, discovery_port) if scan else []
    multicast_from = interface_address(discover) if discover else None
    base = _base(base_config)
    gid = gateway_id or str(base.get("gateway_id") or "") or _host_id()
    broker_host, broker_port = _broker(broker)
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report = SurveyReport(gateway_id=gid, started_at=started_at)

    api: ControllerApi | None = None
    if controller:
        if not controller.startswith(("http://", "https://")):
            raise typer.BadParameter("expected an http(s) URL", param_hint="--controller")
        verify: bool | str = str(controller_ca) if controller_ca else True
        api = ControllerApi(controller, token or "", verify=verify, timeout_s=timeout)
    try:
        if api is not None and user and not token:
            try:
                api.login(user, _api_password())
            except ApiFailure as exc:
                if exc.status in (401, 429):
                    fail(f"login as {user} refused: {exc}", 2)
                progress(f"controller: login not possible ({exc}); going on without it")
        report.cameras = survey_cameras(
            named,
            scanned,
            multicast_from=multicast_from,
            secrets=secrets,
            wait_s=wait,
            timeout_s=timeout,
        )
        ports = [] if no_serial else list(serial or []) or default_ports()
        report.sensors = survey_sensors(ports, sensor_profile, sensor_timeout)
        progress("network: checking")
        plan = NetworkPlan(
            controller=api,
            broker_host=broker_host,
            broker_port=broker_port,
            broker_ca=str(broker_ca) if broker_ca else None,
            samples=samples,
            upload_bytes=upload_kib * 1024,
            timeout_s=timeout,
            limits=netcheck.Limits(clock_warn, latency_warn, uplink_warn),
        )
        report.network = run_checks(plan)
        _propose(
            report,
            base=base,
            secrets=secrets,
            broker_host=broker_host,
            broker_port=broker_port,
            broker_ca=broker_ca,
            out=out,
            api=api,
        )
    finally:
        if api is not None:
            api.close()
    report.duration_s = time.monotonic() - started
    _emit(report, html, as_json)
    if report.failures():
        raise typer.Exit(1)


def _propose(
    report: Any,
    *,
    base: dict[str, Any],
    secrets: Secrets,
    broker_host: str | None,
    broker_port: int | None,
    broker_ca: Path | None,
    out: Path | None,
    api: ControllerApi | None,
) -> None:
    from provisioning.survey import proposal

    proposal.assign_ids(report.cameras, report.sensors)
    sections = proposal.device_sections(report.cameras, report.sensors, secrets)
    if not base:
        base = proposal.bootstrap_base(
            report.gateway_id, broker_host, broker_port, str(broker_ca) if broker_ca else None
        )
    base["gateway_id"] = report.gateway_id
    document = proposal.agent_document(base, sections)
    outcome = report.config
    outcome.gateway_id = report.gateway_id
    outcome.cameras = [c["id"] for c in sections["cameras"]]
    outcome.sensors = [s["id"] for s in sections["sensors"]["sensors"]]
    outcome.document = proposal.masked(document)
    try:
        outcome.errors = validate_and_write(document, out)
    except OSError as exc:
        outcome.errors = [f"cannot write {out}: {exc.strerror or exc}"]
    outcome.valid = not outcome.errors
    if outcome.valid and out is not None:
        outcome.written_to = str(out)
    if outcome.valid and api is not None and api.token:
        send_to_controller(api, outcome, sections, report.started_at)


def _emit(report: Any, html: Path | None, as_json: bool) -> None:
    from provisioning.survey import html as html_report

    if html is not None:
        try:
            html.write_text(html_report.render(report), encoding="utf-8")
        except OSError as exc:
            progress(f"cannot write the HTML report {html}: {exc.strerror}")
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    from rich.console import Console

    from provisioning.survey import terminal

    terminal.render(report, Console())


def _base(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="--base-config") from exc
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path}: not a mapping", param_hint="--base-config")
    return data


def _host_id() -> str:
    from provisioning.survey.proposal import slug

    return slug(socket.gethostname(), "gateway")


def _broker(text: str | None) -> tuple[str | None, int]:
    if not text:
        return None, 8883
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        return text.strip("[]"), 8883
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{text!r} is not HOST[:PORT]", param_hint="--broker")
    return host.strip("[]"), int(port)


def _api_password() -> str:
    from common.redact import register_secret

    password = os.environ.get("KENDALI_API_PASSWORD") or str(
        typer.prompt("API password", hide_input=True, err=True)
    )
    register_secret(password)
    return password
