"""``kendali provision verify``: run on the gateway after enrollment; pass/fail per item with the
fix to try (docs/verify.md). The verdicts are ``provisioning.verify``; this module gathers what
they judge (the agent's configuration and files, a TLS handshake, the controller's REST API)
and polls each remote item until it passes or its time is up."""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from kendali_cli.core import fail
from provisioning import verify as v

POLL_S = 0.5


class ApiError(RuntimeError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class Unreachable(RuntimeError):
    """The controller did not answer at all."""


class Controller:
    """The few REST calls verify makes, with a timeout on every one (urllib: the gateway needs
    no HTTP library beyond the standard one)."""

    def __init__(
        self, url: str, token: str = "", timeout: float = 5.0, ca_file: Path | None = None
    ) -> None:
        self.base = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        # a controller behind a private CA (e.g. the fleet CA's server certificate)
        self.context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        self.last_date: float | None = None  # the controller's clock, from its Date header

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        url = f"{self.base}/api/v1{path}"  # http(s) only: _check_url
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            opened = urllib.request.urlopen(req, timeout=self.timeout, context=self.context)  # noqa: S310
            with opened as resp:
                self._note_date(resp.headers.get("Date"))
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, _detail(exc)) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"{self.base}: {reason}") from exc
        except ValueError as exc:
            raise Unreachable(
                f"{self.base}: the answer is not JSON: is this a controller?"
            ) from exc

    def get_or_none(self, path: str) -> Any:
        try:
            return self.call("GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def _note_date(self, header: str | None) -> None:
        self.last_date = None
        if header:
            with contextlib.suppress(TypeError, ValueError):
                self.last_date = email.utils.parsedate_to_datetime(header).timestamp()

    def now(self) -> float:
        return self.last_date if self.last_date is not None else time.time()


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        return exc.reason or ""
    if not isinstance(body, dict):
        return str(exc.reason or "")
    return str(body.get("detail") or body.get("error") or exc.reason)


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail(f"--controller {url!r}: give the controller's address, e.g. https://cc.example", 2)
    return url


def _plan(config: Path) -> v.GatewayPlan:
    from agent.config import AgentConfig
    from common import configfile
    from common.configfile import ConfigError
    from firmware_profiles import get_profile
    from firmware_profiles.loader import ProfileError

    try:
        cfg = configfile.load(config, AgentConfig)
    except ConfigError as exc:
        fail(f"{exc} (verify reads the agent's configuration: --config)", 2)
    tls = cfg.broker.tls
    sensors = []
    for s in cfg.sensors.sensors:
        if not s.enabled:
            continue
        try:
            interval = s.poll_interval_s or get_profile(s.profile).poll_interval_s
        except ProfileError:
            interval = 5.0
        sensors.append(v.SensorPlan(s.id, s.profile, interval))
    return v.GatewayPlan(
        gateway_id=cfg.gateway_id,
        broker_host=cfg.broker.host,
        broker_port=cfg.broker.port,
        tls=v.TlsFiles(tls.ca_file, tls.cert_file, tls.key_file) if tls else None,
        cameras=tuple(c.id for c in cfg.cameras),
        sensors=tuple(sensors),
        health_interval_s=cfg.health.interval_s,
    )


def _read(path: Path | None) -> bytes | None:
    try:
        return path.read_bytes() if path else None
    except OSError:
        return None


def _key_mode(path: Path | None) -> int | None:
    try:
        return path.stat().st_mode & 0o777 if path else None
    except OSError:
        return None


def local_items(plan: v.GatewayPlan, timeout: float) -> list[v.Item]:
    """What the gateway can check by itself: configuration, certificate, broker handshake."""
    tls = plan.tls
    items = [v.tls_config(plan, _key_mode(tls.key_file if tls else None))]
    if tls is None or tls.cert_file is None:
        items.append(v.stale("certificate", "no certificate configured"))
        items.append(v.broker(plan, None))
        return items
    now = datetime.datetime.now(datetime.UTC)
    items.append(v.certificate(plan, _read(tls.cert_file), _read(tls.ca_file), now))
    shake = v.tls_handshake(plan.broker_host, plan.broker_port, tls, timeout=min(timeout, 5.0))
    items.append(v.broker(plan, shake))
    return items


def poll(check: Callable[[], v.Item], timeout: float) -> v.Item:
    """Judge again until it passes or ``timeout`` is up; the last verdict stands."""
    deadline = time.monotonic() + timeout
    while True:
        item = check()
        if item.status == "pass" or time.monotonic() + POLL_S > deadline:
            return item
        time.sleep(POLL_S)


def _round_trip(api: Controller, gid: str, timeout: float) -> v.Item:
    try:
        created = api.call(
            "POST", "/commands", {"gateway": gid, "name": "ping", "timeout_s": max(timeout, 1.0)}
        )
    except ApiError as exc:
        fix = (
            "sending a command needs an admin's login: use an admin's token or --user"
            if exc.status == 403
            else "see the detail"
        )
        return v.Item("round trip (ping)", "fail", f"the controller refused: {exc.detail}", fix)
    cmd_id = str(created["command_id"])
    started = time.monotonic()
    row: dict[str, Any] | None = None
    while time.monotonic() - started < timeout + 1.0:
        row = api.call("GET", f"/commands/{cmd_id}")
        if row and row.get("status") not in ("pending", "sent"):
            break
        time.sleep(0.1)
    return v.round_trip(row, time.monotonic() - started)


def _sensor(api: Controller, gid: str, plan: v.SensorPlan) -> v.Item:
    from firmware_profiles import get_profile
    from firmware_profiles.loader import ProfileError

    try:
        profile = get_profile(plan.profile)
    except ProfileError:
        profile = None
    view = api.get_or_none(f"/sensors/{gid}/{plan.id}")
    since = api.now() - v.reading_window_s(plan)
    found = api.get_or_none(f"/sensors/{gid}/{plan.id}/readings?since={since:.3f}&limit=200")
    readings = (found or {}).get("readings") or []
    return v.sensor(plan, view, readings, profile, time.time())


def _camera_check(api: Controller, gid: str, cam: str) -> Callable[[], v.Item]:
    return lambda: v.camera(cam, api.get_or_none(f"/cameras/{gid}/{cam}"))


def _sensor_check(api: Controller, gid: str, plan: v.SensorPlan) -> Callable[[], v.Item]:
    return lambda: _sensor(api, gid, plan)


def remote_items(api: Controller, plan: v.GatewayPlan, timeout: float) -> list[v.Item]:
    """The controller's view: online, cameras, sensors, a command's round trip."""
    gid = plan.gateway_id

    def online() -> v.Item:
        return v.online(plan, api.get_or_none(f"/gateways/{gid}"), api.now())

    first = poll(online, timeout)
    items = [first]
    names = [f"camera {c}" for c in plan.cameras] + [f"sensor {s.id}" for s in plan.sensors]
    if first.status != "pass":
        why = "the gateway is not online at the controller"
        return [*items, *(v.stale(n, why) for n in names), v.stale("round trip (ping)", why)]
    for cam in plan.cameras:
        items.append(poll(_camera_check(api, gid, cam), timeout))
    for sensor in plan.sensors:
        items.append(poll(_sensor_check(api, gid, sensor), timeout))
    items.append(_round_trip(api, gid, timeout))
    return items


def _token(api: Controller, token: str | None, user: str | None) -> str:
    if token:
        return token
    if not user:
        fail("give an API token (--token or KENDALI_TOKEN) or log in with --user NAME", 2)
    password = typer.prompt(f"password for {user}", hide_input=True, err=True)
    try:
        answer = api.call("POST", "/auth/login", {"username": user, "password": password})
    except ApiError as exc:
        fail(f"login as {user!r} refused: {exc.detail}", 2)
    return str(answer["token"])


def _whoami(api: Controller) -> dict[str, Any]:
    try:
        me = api.call("GET", "/me")
    except ApiError as exc:
        if exc.status == 401:
            fail(
                f"the controller refused the token ({exc.detail}): it is wrong or expired; "
                "log in again (--user) or ask for a new token (kendali users token)",
                2,
            )
        fail(f"the controller answered {exc}", 1)
    if not isinstance(me, dict):
        fail(f"{api.base} did not answer like a Kendali controller", 1)
    return me


def _report(items: list[v.Item], gid: str, as_json: bool) -> None:
    if as_json:
        out = {"gateway": gid, "passed": v.passed(items), "items": [i.as_dict() for i in items]}
        typer.echo(json.dumps(out, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    marks = {"pass": "[green]PASS[/]", "warn": "[yellow]WARN[/]", "fail": "[red]FAIL[/]"}
    table = Table(title=f"kendali provision verify: {gid}", show_lines=True)
    for col in ("item", "result", "what was seen", "fix to try"):
        table.add_column(col, overflow="fold")
    for i in items:
        table.add_row(i.name, marks[i.status], i.detail, i.fix)
    console = Console(width=max(100, Console().width))
    console.print(table)
    verdict = "all items pass" if v.passed(items) else "NOT DONE: fix the items marked above"
    console.print(verdict, markup=False)


def verify(  # noqa: PLR0917 - typer maps each parameter to an option
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The agent's configuration file.")
    ] = Path("/etc/kendali/agent.yaml"),
    controller: Annotated[
        str,
        typer.Option("--controller", help="The controller's address, e.g. https://cc.example."),
    ] = "",
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="KENDALI_TOKEN", help="API token (or the KENDALI_TOKEN variable)."
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Log in as this user (asks the password).")
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=1.0, max=600.0, help="Seconds each item may take to pass (polled)."
        ),
    ] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="CA bundle for an HTTPS controller with a private CA (default: the system's).",
        ),
    ] = None,
) -> None:
    """Check that this gateway is a working member of the fleet (the technician's done signal).

    Mutual TLS configured and its certificate valid, the broker accepts the certificate, the
    controller sees the gateway online, every camera streams, every sensor reads plausible
    values, and a command goes from the controller to the agent and back. Exit 0 only when
    every item passes (1: an item failed, 3: warnings only, 2: bad usage or login). See
    docs/verify.md."""
    if not controller:
        fail("give the controller's address: --controller https://cc.example", 2)
    if ca_file is not None and not ca_file.is_file():
        fail(f"--ca-file {ca_file}: no such file", 2)
    try:
        api = Controller(_check_url(controller), timeout=min(timeout, 10.0), ca_file=ca_file)
    except ssl.SSLError as exc:
        fail(f"--ca-file {ca_file}: not a CA bundle ({exc})", 2)
    plan = _plan(config)
    try:
        api.token = _token(api, token, user)
        _whoami(api)
    except Unreachable as exc:
        fail(f"cannot reach the controller: {exc}; check --controller and the uplink", 1)
    items = local_items(plan, timeout)
    try:
        items += remote_items(api, plan, timeout)
    except Unreachable as exc:
        fail(f"lost the controller while verifying: {exc}", 1)
    except ApiError as exc:
        fail(f"the controller answered {exc}", 1)
    _report(items, plan.gateway_id, as_json)
    raise typer.Exit(v.exit_code(items))
