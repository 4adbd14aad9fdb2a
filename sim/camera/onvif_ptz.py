"""ONVIF PTZ service of the simulated camera (presets, moves, status).

One PTZ node and one PTZ configuration, attached to both media profiles (a real camera has one
head whatever the stream). A preset move takes ``ptz_move_s`` seconds (quirk), during which the
RTSP picture pans smoothly; GetStatus reports the position and MOVING until it settles.
Cameras without the ``ptz`` quirk answer every PTZ operation with ActionNotSupported, as do
cameras with ``ptz_refuse`` (the service listed, the calls refused).
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

from sim.camera.onvif_ops import Handler, OnvifFault, OnvifRequest, not_supported
from sim.camera.ptz import Position, Preset
from sim.camera.soap import el, find_text, split_tag, wrap

NODE = "PTZNode_1"
CONFIG = "PTZConfig_1"
SPACES = "http://www.onvif.org/ver10/tptz"
PAN_TILT_POSITION = f"{SPACES}/PanTiltSpaces/PositionGenericSpace"
ZOOM_POSITION = f"{SPACES}/ZoomSpaces/PositionGenericSpace"
PAN_TILT_VELOCITY = f"{SPACES}/PanTiltSpaces/VelocityGenericSpace"
ZOOM_VELOCITY = f"{SPACES}/ZoomSpaces/VelocityGenericSpace"
_DURATION = re.compile(r"^P(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text: str | None) -> float | None:
    """Seconds of an xs:duration like PT5S or PT1M30S (days and months are not accepted)."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if match is None:
        raise OnvifFault("Sender", "ter:InvalidArgVal", f"bad duration {text!r}")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s


def _find(elem: ET.Element, local: str) -> ET.Element | None:
    return next((c for c in elem.iter() if split_tag(c.tag)[1] == local), None)


def _vector(elem: ET.Element | None, base: Position) -> Position:
    """PanTilt x/y and Zoom x attributes of a PTZVector or PTZSpeed; missing parts from
    ``base``."""
    if elem is None:
        return base
    pan, tilt, zoom = base
    try:
        pan_tilt, zoom_el = _find(elem, "PanTilt"), _find(elem, "Zoom")
        if pan_tilt is not None:
            pan = float(pan_tilt.get("x", pan))
            tilt = float(pan_tilt.get("y", tilt))
        if zoom_el is not None:
            zoom = float(zoom_el.get("x", zoom))
    except ValueError as exc:
        raise OnvifFault("Sender", "ter:InvalidArgVal", f"bad vector: {exc}") from exc
    return pan, tilt, zoom


def _ptz_vector(tag: str, pos: Position) -> str:
    pan, tilt, zoom = pos
    return (
        f'<{tag}><tt:PanTilt x="{pan:.4f}" y="{tilt:.4f}" space="{PAN_TILT_POSITION}"/>'
        f'<tt:Zoom x="{zoom:.4f}" space="{ZOOM_POSITION}"/></{tag}>'
    )


def _check_profile(req: OnvifRequest) -> None:
    token = find_text(req.op, "ProfileToken")
    p = req.ctx.personality
    if token not in (p.main.profile, p.sub.profile):
        raise OnvifFault("Sender", "ter:InvalidArgVal", f"no profile {token!r}")


def _served(name: str, handler: Callable[[OnvifRequest], str]) -> Handler:
    """Count the request, refuse it on a camera without PTZ, else answer it."""

    def serve(req: OnvifRequest) -> str:
        req.ctx.ptz.count(name)
        q = req.ctx.quirks
        if not q.ptz or q.ptz_refuse:
            raise not_supported(name)
        return handler(req)

    return serve


def _range(tag: str, low: float, high: float) -> str:
    return wrap(tag, el("tt:Min", low), el("tt:Max", high))


def _space_2d(tag: str, uri: str, low: float) -> str:
    return wrap(tag, el("tt:URI", uri), _range("tt:XRange", low, 1), _range("tt:YRange", low, 1))


def _space_1d(tag: str, uri: str, low: float) -> str:
    return wrap(tag, el("tt:URI", uri), _range("tt:XRange", low, 1))


def _node(tag: str) -> str:
    spaces = wrap(
        "tt:SupportedPTZSpaces",
        _space_2d("tt:AbsolutePanTiltPositionSpace", PAN_TILT_POSITION, -1),
        _space_1d("tt:AbsoluteZoomPositionSpace", ZOOM_POSITION, 0),
        _space_2d("tt:ContinuousPanTiltVelocitySpace", PAN_TILT_VELOCITY, -1),
        _space_1d("tt:ContinuousZoomVelocitySpace", ZOOM_VELOCITY, -1),
    )
    return wrap(
        tag,
        el("tt:Name", "PTZ"),
        spaces,
        el("tt:MaximumNumberOfPresets", 64),
        el("tt:HomeSupported", "true"),
        attrs=f'token="{NODE}" FixedHomePosition="false"',
    )


def configuration(tag: str) -> str:
    """The PTZ configuration, also embedded in each media profile of a PTZ camera."""
    return wrap(
        tag,
        el("tt:Name", "PTZ"),
        el("tt:UseCount", 2),
        el("tt:NodeToken", NODE),
        el("tt:DefaultAbsolutePantTiltPositionSpace", PAN_TILT_POSITION),
        el("tt:DefaultAbsoluteZoomPositionSpace", ZOOM_POSITION),
        el("tt:DefaultContinuousPanTiltVelocitySpace", PAN_TILT_VELOCITY),
        el("tt:DefaultContinuousZoomVelocitySpace", ZOOM_VELOCITY),
        el("tt:DefaultPTZTimeout", "PT5S"),
        attrs=f'token="{CONFIG}"',
    )


def get_nodes(req: OnvifRequest) -> str:
    return wrap("tptz:GetNodesResponse", _node("tptz:PTZNode"))


def get_node(req: OnvifRequest) -> str:
    if find_text(req.op, "NodeToken") != NODE:
        raise OnvifFault("Sender", "ter:InvalidArgVal", "no such PTZ node")
    return wrap("tptz:GetNodeResponse", _node("tptz:PTZNode"))


def get_configurations(req: OnvifRequest) -> str:
    return wrap("tptz:GetConfigurationsResponse", configuration("tptz:PTZConfiguration"))


def get_configuration(req: OnvifRequest) -> str:
    if find_text(req.op, "PTZConfigurationToken") != CONFIG:
        raise OnvifFault("Sender", "ter:InvalidArgVal", "no such PTZ configuration")
    return wrap("tptz:GetConfigurationResponse", configuration("tptz:PTZConfiguration"))


def get_service_capabilities(req: OnvifRequest) -> str:
    return (
        "<tptz:GetServiceCapabilitiesResponse>"
        '<tptz:Capabilities EFlip="false" Reverse="false" GetCompatibleConfigurations="false" '
        'MoveStatus="true" StatusPosition="true"/></tptz:GetServiceCapabilitiesResponse>'
    )


def _preset(p: Preset) -> str:
    return wrap(
        "tptz:Preset",
        el("tt:Name", p.name),
        _ptz_vector("tt:PTZPosition", p.position),
        attrs=f'token="{p.token}"',
    )


def get_presets(req: OnvifRequest) -> str:
    _check_profile(req)
    items = "".join(_preset(p) for p in req.ctx.ptz.presets)
    return f"<tptz:GetPresetsResponse>{items}</tptz:GetPresetsResponse>"


def _move_seconds(req: OnvifRequest) -> float:
    """The configured move time, longer when the client asks for less than full speed."""
    speed = _find(req.op, "Speed")
    pan, _tilt, _zoom = _vector(speed, (1.0, 1.0, 1.0))
    return req.ctx.quirks.ptz_move_s / max(0.1, min(1.0, abs(pan) or 1.0))


def goto_preset(req: OnvifRequest) -> str:
    _check_profile(req)
    token = find_text(req.op, "PresetToken") or ""
    if not req.ctx.ptz.goto_preset(token, _move_seconds(req)):
        raise OnvifFault("Sender", "ter:InvalidArgVal", f"no preset {token!r}")
    return "<tptz:GotoPresetResponse/>"


def goto_home_position(req: OnvifRequest) -> str:
    _check_profile(req)
    req.ctx.ptz.goto((0.0, 0.0, 0.0), _move_seconds(req))
    return "<tptz:GotoHomePositionResponse/>"


def set_preset(req: OnvifRequest) -> str:
    _check_profile(req)
    token = req.ctx.ptz.set_preset(
        find_text(req.op, "PresetToken") or None, find_text(req.op, "PresetName") or ""
    )
    return wrap("tptz:SetPresetResponse", el("tptz:PresetToken", token))


def absolute_move(req: OnvifRequest) -> str:
    _check_profile(req)
    here, _ = req.ctx.ptz.status()
    target = _vector(_find(req.op, "Position"), here)
    req.ctx.ptz.goto(target, _move_seconds(req))
    return "<tptz:AbsoluteMoveResponse/>"


def continuous_move(req: OnvifRequest) -> str:
    _check_profile(req)
    velocity = _vector(_find(req.op, "Velocity"), (0.0, 0.0, 0.0))
    req.ctx.ptz.continuous(velocity, parse_duration(find_text(req.op, "Timeout")))
    return "<tptz:ContinuousMoveResponse/>"


def stop(req: OnvifRequest) -> str:
    _check_profile(req)
    req.ctx.ptz.stop()
    return "<tptz:StopResponse/>"


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def get_status(req: OnvifRequest) -> str:
    _check_profile(req)
    pos, moving = req.ctx.ptz.status()
    state = "MOVING" if moving else "IDLE"
    move_status = (
        ""
        if req.ctx.quirks.ptz_no_move_status
        else wrap("tt:MoveStatus", el("tt:PanTilt", state), el("tt:Zoom", state))
    )
    status = wrap(
        "tptz:PTZStatus",
        _ptz_vector("tt:Position", pos),
        move_status,
        el("tt:UtcTime", _utc(req.ctx.camera_time())),
    )
    return wrap("tptz:GetStatusResponse", status)


HANDLERS: dict[str, Handler] = {
    name: _served(name, handler)
    for name, handler in {
        "GetNodes": get_nodes,
        "GetNode": get_node,
        "GetConfigurations": get_configurations,
        "GetConfiguration": get_configuration,
        "GetServiceCapabilities": get_service_capabilities,
        "GetPresets": get_presets,
        "GotoPreset": goto_preset,
        "GotoHomePosition": goto_home_position,
        "SetPreset": set_preset,
        "AbsoluteMove": absolute_move,
        "ContinuousMove": continuous_move,
        "Stop": stop,
        "GetStatus": get_status,
    }.items()
}
