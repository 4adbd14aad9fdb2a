"""The survey as a readable terminal report (rich). Device-supplied text passes ``for_terminal``
(control characters and markup escaped) before rich sees it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from common.text import for_terminal as t
from provisioning.survey.report import CameraFinding, Status, SurveyReport

SKEW_WARN_S = 5.0  # the agent's default max_clock_skew_s
COLOUR = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.SKIP: "dim"}


def _badge(status: Status) -> str:
    return f"[{COLOUR[status]}]{status.value.upper()}[/{COLOUR[status]}]"


def _skew(skew: float | None) -> str:
    if skew is None:
        return "  clock unknown"
    colour = "yellow" if abs(skew) > SKEW_WARN_S else "default"
    return f"  clock [{colour}]{skew:+.1f} s[/{colour}]"


def _camera(console: Console, cam: CameraFinding) -> None:
    where = t(cam.device_url or cam.address)
    head = f"{_badge(cam.status)} [bold]{t(cam.camera_id or '-')}[/bold] {where}"
    if not cam.usable:
        console.print(f"{head}: {t(cam.state.value)}  {t(cam.detail)}")
        return
    unsure = "" if cam.identity_certain else " [yellow](identification unsure)[/yellow]"
    console.print(
        f"{head}: [bold]{t(cam.manufacturer)} {t(cam.model)}[/bold]{unsure}  firmware "
        f"{t(cam.firmware)}  serial {t(cam.serial)}  credentials {t(cam.credential or 'none')} "
        f"(user {t(cam.username)!r}){_skew(cam.clock_skew_s)}"
    )
    table = Table("profile", "codec", "resolution", "fps", "RTSP URI", box=None, padding=(0, 2))
    for s in cam.streams:
        res = f"{s.width}x{s.height}" if s.width else "?"
        table.add_row(t(s.token), t(s.encoding or "?"), res, t(s.fps or "?"), t(s.uri))
    console.print(table)
    snap = f"{len(cam.snapshot_jpeg)} bytes" if cam.snapshot_jpeg else t(cam.snapshot_note)
    console.print(f"    snapshot: {snap}")
    for note in cam.notes:
        console.print(f"    [yellow]note[/yellow]: {t(note)}")


def _reading(reading: dict[str, object]) -> str:
    unit = f" {t(reading['unit'])}" if reading.get("unit") else ""
    return f"{t(reading['resource'])}={t(reading['value'])}{unit}"


def _sensors(report: SurveyReport, console: Console) -> None:
    for s in report.sensors:
        where = t(s.stable_name or s.port)
        if s.status == Status.OK:
            readings = ", ".join(_reading(r) for r in s.readings)
            console.print(
                f"{_badge(s.status)} [bold]{t(s.sensor_id)}[/bold] {where}: "
                f"{t(s.profile)} ({t(s.protocol)}) {readings}"
            )
            for line in s.evidence:
                console.print(f"    evidence: {t(line)}")
            continue
        console.print(f"{_badge(s.status)} {where}: {t(s.verdict)}  {t(s.detail)}")
        for cand in s.candidates:
            console.print(f"    candidate {t(cand.get('profile'))} (score {t(cand.get('score'))})")
    if not report.sensors:
        console.print("no serial port probed")


def _network(report: SurveyReport, console: Console) -> None:
    for check in report.network:
        console.print(f"{_badge(check.status)} {t(check.name)}: {t(check.detail)}")
        if check.fix and check.status in (Status.WARN, Status.FAIL):
            console.print(f"    fix: {t(check.fix)}")
    if not report.network:
        console.print("nothing checked (give --controller and --broker)")


def _config(report: SurveyReport, console: Console) -> None:
    cfg = report.config
    cameras, sensors = ", ".join(cfg.cameras) or "-", ", ".join(cfg.sensors) or "-"
    console.print(
        f"{_badge(cfg.status)} gateway {t(cfg.gateway_id)}: cameras {t(cameras)}; "
        f"sensors {t(sensors)}"
    )
    for err in cfg.errors:
        console.print(f"    [red]invalid[/red]: {t(err)}")
    if cfg.written_to:
        console.print(f"    written to {t(cfg.written_to)} (owner-only: it holds camera passwords)")
    if cfg.sent:
        sections = ", ".join(cfg.sent.get("sections", []))
        console.print(
            f"    sent to the controller as {t(cfg.sent.get('scope'))} layer version "
            f"{t(cfg.sent.get('layer_version'))} (sections: {t(sections)})"
        )
    if cfg.send_error:
        console.print(f"    [red]not sent[/red]: {t(cfg.send_error)}")
        if cfg.send_fix:
            console.print(f"    fix: {t(cfg.send_fix)}")


def render(report: SurveyReport, console: Console) -> None:
    title = f"Site survey of gateway {t(report.gateway_id)}"
    console.print(f"[bold]{title}[/bold]  {t(report.started_at)}")
    console.rule("cameras")
    for cam in report.cameras:
        _camera(console, cam)
    if not report.cameras:
        console.print("no camera found")
    console.rule("sensors")
    _sensors(report, console)
    console.rule("network")
    _network(report, console)
    console.rule("configuration")
    _config(report, console)
    failures = report.failures()
    console.rule()
    if failures:
        console.print(f"[red]{len(failures)} required item(s) failed[/red]:")
        for line in failures:
            console.print(f"  - {t(line)}")
    else:
        console.print("[green]all required items passed[/green]")
    for line in report.warnings():
        console.print(f"  [yellow]warning[/yellow]: {t(line)}")
