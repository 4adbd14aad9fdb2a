"""The survey as one self-contained HTML page the technician can hand over: snapshots embedded
as ``data:`` URIs, no script, no outside resource.

Every string a device or the network supplied (a camera's model, a sensor's evidence, an error
text) is hostile until escaped: each one passes :func:`esc`, and the page's own policy forbids
scripts, so even a mistake here would not run one.
"""

from __future__ import annotations

import html
import json

from provisioning.survey.report import (
    CameraFinding,
    Check,
    SensorFinding,
    Status,
    SurveyReport,
)

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'"
STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:70em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top;font-size:.9em}
.ok{color:#176b1f}.warn{color:#9a6700}.fail{color:#b3261e}.skip{color:#666}
.camera{border:1px solid #ddd;padding:.5em 1em;margin:.8em 0}
img{max-width:32em;border:1px solid #999}code,pre{font-size:.85em}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _status(status: Status | str) -> str:
    text = str(status.value if isinstance(status, Status) else status)
    return f'<b class="{esc(text)}">{esc(text.upper())}</b>'


def _row(*cells: object) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _camera(cam: CameraFinding) -> str:
    parts = [
        '<div class="camera">',
        f"<h3>{esc(cam.camera_id or cam.address)} {_status(cam.status)} {esc(cam.state.value)}"
        "</h3>",
        "<table>",
        _row("address", esc(cam.device_url or cam.address)),
    ]
    if cam.usable:
        unsure = "" if cam.identity_certain else ' <b class="warn">(identification unsure)</b>'
        parts += [
            _row("model", f"{esc(cam.manufacturer)} {esc(cam.model)}{unsure}"),
            _row("firmware", esc(cam.firmware)),
            _row("serial", esc(cam.serial)),
            _row(
                "camera clock",
                esc(
                    "unknown"
                    if cam.clock_skew_s is None
                    else f"{cam.clock_skew_s:+.1f} s from this gateway"
                ),
            ),
            _row("credentials", esc(f"{cam.credential or 'none'} (user {cam.username!r})")),
        ]
    if cam.detail:
        parts.append(_row("detail", esc(cam.detail)))
    for note in cam.notes:
        parts.append(_row("note", esc(note)))
    parts.append("</table>")
    if cam.streams:
        parts.append(
            "<table><tr><th>profile</th><th>name</th><th>codec</th><th>resolution</th>"
            "<th>fps</th><th>RTSP URI</th></tr>"
        )
        for s in cam.streams:
            res = f"{s.width}x{s.height}" if s.width else "?"
            parts.append(
                _row(
                    esc(s.token),
                    esc(s.name),
                    esc(s.encoding or "?"),
                    esc(res),
                    esc(s.fps or "?"),
                    f"<code>{esc(s.uri)}</code>",
                )
            )
        parts.append("</table>")
    uri = cam.snapshot_data_uri()
    if uri is not None:
        alt = esc(f"snapshot of {cam.camera_id or cam.address}")
        parts.append(f'<p><img src="{esc(uri)}" alt="{alt}"></p>')
    elif cam.usable:
        parts.append(f"<p>no snapshot: {esc(cam.snapshot_note or 'none taken')}</p>")
    parts.append("</div>")
    return "\n".join(parts)


def _sensor(sensor: SensorFinding) -> str:
    name = sensor.profile or "; ".join(
        f"{c.get('profile')} (score {c.get('score')})" for c in sensor.candidates
    )
    readings = ", ".join(
        f"{r.get('resource')}={r.get('value')} {r.get('unit', '')}".strip() for r in sensor.readings
    )
    return _row(
        esc(sensor.sensor_id or "-"),
        esc(sensor.stable_name or sensor.port),
        f"{_status(sensor.status)} {esc(sensor.verdict)}",
        esc(name or "-"),
        esc(sensor.address if sensor.address is not None else ""),
        esc(sensor.baudrate or ""),
        esc(readings),
        "<br>".join(esc(e) for e in (sensor.evidence or [sensor.detail])),
    )


def _check(check: Check) -> str:
    return _row(esc(check.name), _status(check.status), esc(check.detail), esc(check.fix))


def render(report: SurveyReport) -> str:
    failures = report.failures()
    verdict = (
        '<p class="ok"><b>All required items passed.</b></p>'
        if not failures
        else '<p class="fail"><b>Failed:</b></p><ul>'
        + "".join(f"<li>{esc(f)}</li>" for f in failures)
        + "</ul>"
    )
    warnings = report.warnings()
    if warnings:
        verdict += (
            '<p class="warn"><b>Warnings:</b></p><ul>'
            + "".join(f"<li>{esc(w)}</li>" for w in warnings)
            + "</ul>"
        )
    sensors = (
        "<table><tr><th>id</th><th>port</th><th>verdict</th><th>profile</th><th>address</th>"
        "<th>baud</th><th>readings</th><th>evidence</th></tr>"
        + "".join(_sensor(s) for s in report.sensors)
        + "</table>"
        if report.sensors
        else "<p>no serial port probed</p>"
    )
    network = (
        "<table><tr><th>item</th><th>status</th><th>detail</th><th>fix</th></tr>"
        + "".join(_check(c) for c in report.network)
        + "</table>"
        if report.network
        else "<p>no network item checked (give --controller and --broker)</p>"
    )
    config = report.config
    where = []
    if config.written_to:
        where.append(f"written to {esc(config.written_to)}")
    if config.sent:
        where.append(f"sent to the controller: {esc(json.dumps(config.sent, sort_keys=True))}")
    if config.send_error:
        where.append(
            f'<span class="fail">not sent: {esc(config.send_error)}</span> {esc(config.send_fix)}'
        )
    errors = "".join(f"<li>{esc(e)}</li>" for e in config.errors)
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        f"<title>Kendali site survey {esc(report.gateway_id)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Site survey of gateway {esc(report.gateway_id)}</h1>",
        f"<p>{esc(report.started_at)}, {report.duration_s:.1f} s</p>",
        verdict,
        f"<h2>Cameras ({len(report.cameras)})</h2>",
        *(_camera(c) for c in report.cameras),
        "" if report.cameras else "<p>no camera found</p>",
        f"<h2>Sensors ({len(report.sensors)})</h2>",
        sensors,
        "<h2>Network</h2>",
        network,
        "<h2>Proposed configuration</h2>",
        f"<p>{_status(config.status)} {'; '.join(where) or 'not written or sent'}</p>",
        f"<ul>{errors}</ul>" if errors else "",
        "<p>Camera passwords are shown as ***.</p>",
        f"<pre>{esc(json.dumps(config.document, indent=2, sort_keys=True))}</pre>",
        "</body></html>",
    ]
    return "\n".join(body) + "\n"
