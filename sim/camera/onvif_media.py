"""Media service (trt, Media1): profiles, encoder configurations, stream and snapshot URIs."""

from __future__ import annotations

from sim.camera import onvif_ptz
from sim.camera.hub import StreamSpec
from sim.camera.onvif_ops import Handler, OnvifFault, OnvifRequest, not_supported
from sim.camera.soap import el, find_text, wrap

_MULTICAST = (
    "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address>"
    "</tt:Address><tt:Port>0</tt:Port><tt:TTL>0</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
)


def _encoder(req: OnvifRequest, stream: str, tag: str) -> str:
    spec: StreamSpec = req.ctx.hubs[stream].spec
    hidden = stream == "main" and req.ctx.quirks.h265_main  # Media1 view of an H.265 main
    resolution = wrap("tt:Resolution", el("tt:Width", spec.width), el("tt:Height", spec.height))
    fields = "" if hidden else el("tt:Encoding", "H264") + resolution
    h264 = wrap("tt:H264", el("tt:GovLength", spec.fps), el("tt:H264Profile", "Baseline"))
    rate = wrap(
        "tt:RateControl",
        el("tt:FrameRateLimit", spec.fps),
        el("tt:EncodingInterval", 1),
        el("tt:BitrateLimit", spec.kbps),
    )
    timeout = el("tt:SessionTimeout", f"PT{req.ctx.quirks.rtsp_session_timeout}S")
    head = el("tt:Name", f"VideoEncoder_{stream}") + el("tt:UseCount", 1)
    body = (head, fields, el("tt:Quality", 4), rate, "" if hidden else h264, _MULTICAST, timeout)
    return wrap(tag, *body, attrs=f'token="VideoEncoder_{stream}"')


def _source() -> str:
    return (
        '<tt:VideoSourceConfiguration token="VideoSourceConfig_1">'
        "<tt:Name>VideoSourceConfig</tt:Name>"
        "<tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>"
        '<tt:Bounds x="0" y="0" width="1280" height="720"/></tt:VideoSourceConfiguration>'
    )


def _profile(req: OnvifRequest, stream: str, tag: str) -> str:
    names = getattr(req.ctx.personality, stream)
    ptz = onvif_ptz.configuration("tt:PTZConfiguration") if req.ctx.quirks.ptz else ""
    return (
        f'<{tag} token="{names.profile}" fixed="true">{el("tt:Name", names.name)}{_source()}'
        f"{_encoder(req, stream, 'tt:VideoEncoderConfiguration')}{ptz}</{tag}>"
    )


def _stream_of(req: OnvifRequest) -> str:
    token = find_text(req.op, "ProfileToken")
    for stream in ("main", "sub"):
        if getattr(req.ctx.personality, stream).profile == token:
            return stream
    raise OnvifFault("Sender", "ter:InvalidArgVal", f"no profile {token!r}")


def get_profiles(req: OnvifRequest) -> str:
    items = "".join(_profile(req, s, "trt:Profiles") for s in ("main", "sub"))
    return f"<trt:GetProfilesResponse>{items}</trt:GetProfilesResponse>"


def get_profile(req: OnvifRequest) -> str:
    return wrap("trt:GetProfileResponse", _profile(req, _stream_of(req), "trt:Profile"))


def get_video_encoder_configurations(req: OnvifRequest) -> str:
    items = "".join(_encoder(req, s, "trt:Configurations") for s in ("main", "sub"))
    return wrap("trt:GetVideoEncoderConfigurationsResponse", items)


def get_video_sources(req: OnvifRequest) -> str:
    spec = req.ctx.hubs["main"].spec
    resolution = wrap("tt:Resolution", el("tt:Width", spec.width), el("tt:Height", spec.height))
    source = wrap(
        "trt:VideoSources", el("tt:Framerate", spec.fps), resolution, attrs='token="VideoSource_1"'
    )
    return wrap("trt:GetVideoSourcesResponse", source)


def _media_uri(tag: str, uri: str) -> str:
    media = wrap(
        "trt:MediaUri",
        el("tt:Uri", uri),
        el("tt:InvalidAfterConnect", "false"),
        el("tt:InvalidAfterReboot", "false"),
        el("tt:Timeout", "PT0S"),
    )
    return wrap(tag, media)


def get_stream_uri(req: OnvifRequest) -> str:
    stream = _stream_of(req)
    uri = req.ctx.rtsp_uri(stream).replace(req.ctx.host, req.reached_host, 1)
    return _media_uri("trt:GetStreamUriResponse", uri)


def get_snapshot_uri(req: OnvifRequest) -> str:
    q, p = req.ctx.quirks, req.ctx.personality
    stream = _stream_of(req)
    if q.snapshot_unsupported:
        raise not_supported("GetSnapshotUri")
    if q.snapshot_rtsp_with_password:
        uri = req.ctx.rtsp_uri(stream, credentials=True)
    elif p.snapshot_path is None:
        raise not_supported("GetSnapshotUri")
    else:
        uri = f"http://{req.reached_host}:{req.ctx.onvif_port}{p.snapshot_path}"
    return _media_uri("trt:GetSnapshotUriResponse", uri)


HANDLERS: dict[str, Handler] = {
    "GetProfiles": get_profiles,
    "GetProfile": get_profile,
    "GetVideoEncoderConfigurations": get_video_encoder_configurations,
    "GetVideoSources": get_video_sources,
    "GetStreamUri": get_stream_uri,
    "GetSnapshotUri": get_snapshot_uri,
}
