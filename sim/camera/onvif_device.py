"""Device service (tds): identity, clock, capabilities, services, scopes."""

from __future__ import annotations

import time

from sim.camera.context import CameraContext
from sim.camera.firmware import UPLOAD_PREFIX
from sim.camera.onvif_ops import Handler, OnvifRequest, not_supported
from sim.camera.soap import NS, el, find_text, wrap

WITA = 8 * 3600  # Balikpapan local time, UTC+8


def _date_time(tag: str, epoch: float) -> str:
    t = time.gmtime(epoch)
    return (
        f"<tt:{tag}><tt:Time>{el('tt:Hour', t.tm_hour)}{el('tt:Minute', t.tm_min)}"
        f"{el('tt:Second', t.tm_sec)}</tt:Time><tt:Date>{el('tt:Year', t.tm_year)}"
        f"{el('tt:Month', t.tm_mon)}{el('tt:Day', t.tm_mday)}</tt:Date></tt:{tag}>"
    )


def get_system_date_and_time(req: OnvifRequest) -> str:
    if req.ctx.quirks.no_system_date_time:
        raise not_supported("GetSystemDateAndTime")
    now = req.ctx.camera_time()
    utc = now + WITA if req.ctx.quirks.local_time_as_utc else now
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>WITA-8</tt:TZ></tt:TimeZone>"
        f"{_date_time('UTCDateTime', utc)}{_date_time('LocalDateTime', now + WITA)}"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def get_device_information(req: OnvifRequest) -> str:
    p = req.ctx.personality
    return (
        "<tds:GetDeviceInformationResponse>"
        f"{el('tds:Manufacturer', p.manufacturer)}{el('tds:Model', p.model)}"
        f"{el('tds:FirmwareVersion', req.ctx.firmware())}{el('tds:SerialNumber', p.serial)}"
        f"{el('tds:HardwareId', p.hardware_id)}</tds:GetDeviceInformationResponse>"
    )


def get_capabilities(req: OnvifRequest) -> str:
    device = req.ctx.xaddr("device", req.reached_host)
    media = req.ctx.xaddr("media", req.reached_host)
    category = find_text(req.op, "Category") or "All"
    parts = []
    if category in ("All", "Device"):
        parts.append(
            f"<tt:Device>{el('tt:XAddr', device)}<tt:System>"
            "<tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>"
            "<tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>"
            "<tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>true</tt:FirmwareUpgrade>"
            "<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions>"
            "</tt:System></tt:Device>"
        )
    if category in ("All", "Events"):
        pullpoint = "true" if req.ctx.quirks.events_pullpoint else "false"
        parts.append(
            f"<tt:Events>{el('tt:XAddr', req.ctx.xaddr('events', req.reached_host))}"
            "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
            f"<tt:WSPullPointSupport>{pullpoint}</tt:WSPullPointSupport>"
            "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
            "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
        )
    if category in ("All", "Media"):
        parts.append(
            f"<tt:Media>{el('tt:XAddr', media)}<tt:StreamingCapabilities>"
            "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
        )
    if category in ("All", "PTZ") and req.ctx.quirks.ptz:
        parts.append(f"<tt:PTZ>{el('tt:XAddr', req.ctx.xaddr('ptz', req.reached_host))}</tt:PTZ>")
    return wrap("tds:GetCapabilitiesResponse", wrap("tds:Capabilities", *parts))


def get_services(req: OnvifRequest) -> str:
    if req.ctx.quirks.no_get_services:
        raise not_supported("GetServices")
    services = [(NS["tds"], "device", 2, 60), (NS["trt"], "media", 2, 60)]
    services.append((NS["tev"], "events", 2, 60))
    if req.ctx.quirks.ptz:
        services.append((NS["tptz"], "ptz", 2, 60))
    items = "".join(
        wrap(
            "tds:Service",
            el("tds:Namespace", ns),
            el("tds:XAddr", req.ctx.xaddr(svc, req.reached_host)),
            wrap("tds:Version", el("tt:Major", major), el("tt:Minor", minor)),
        )
        for ns, svc, major, minor in services
    )
    return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"


def device_scopes(ctx: CameraContext) -> list[str]:
    """The device's scope URIs, also announced by discovery."""
    p = ctx.personality
    base = "onvif://www.onvif.org"
    return [
        f"{base}/type/video_encoder",
        f"{base}/type/Network_Video_Transmitter",
        f"{base}/Profile/Streaming",
        f"{base}/hardware/{p.model.replace(' ', '_')}",
        f"{base}/name/{p.manufacturer.replace(' ', '_')}",
        f"{base}/location/city/Balikpapan",
    ]


def get_scopes(req: OnvifRequest) -> str:
    items = "".join(
        f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef>{el('tt:ScopeItem', s)}</tds:Scopes>"
        for s in device_scopes(req.ctx)
    )
    return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"


def get_hostname(req: OnvifRequest) -> str:
    name = req.ctx.personality.name + "-sim"
    return (
        "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
        f"{el('tt:Name', name)}</tds:HostnameInformation></tds:GetHostnameResponse>"
    )


def get_service_capabilities(req: OnvifRequest) -> str:
    upgrade = "true" if req.ctx.quirks.firmware_upgrade else "false"
    return (
        "<tds:GetServiceCapabilitiesResponse><tds:Capabilities>"
        '<tds:Network ZeroConfiguration="false" IPVersion6="false"/>'
        '<tds:Security UsernameToken="true" HttpDigest="true"/>'
        f'<tds:System DiscoveryBye="true" FirmwareUpgrade="{upgrade}" '
        f'HttpFirmwareUpgrade="{upgrade}" HttpSystemBackup="false"/>'
        "</tds:Capabilities></tds:GetServiceCapabilitiesResponse>"
    )


def _duration(seconds: float) -> str:
    return f"PT{seconds:g}S"


def start_firmware_upgrade(req: OnvifRequest) -> str:
    """An upload URI on this camera's HTTP server (one-time token), as the Core spec's
    HTTP firmware upgrade: the client waits UploadDelay, POSTs the image, the device reboots."""
    q = req.ctx.quirks
    if not q.firmware_upgrade:
        raise not_supported("StartFirmwareUpgrade")
    token = req.ctx.upgrader.new_upload()
    uri = f"http://{req.reached_host}:{req.ctx.onvif_port}{UPLOAD_PREFIX}{token}"
    return (
        f"<tds:StartFirmwareUpgradeResponse>{el('tds:UploadUri', uri)}"
        f"{el('tds:UploadDelay', _duration(q.firmware_upload_delay_s))}"
        f"{el('tds:ExpectedDownTime', _duration(q.firmware_down_time_s))}"
        "</tds:StartFirmwareUpgradeResponse>"
    )


HANDLERS: dict[str, Handler] = {
    "GetSystemDateAndTime": get_system_date_and_time,
    "GetDeviceInformation": get_device_information,
    "GetCapabilities": get_capabilities,
    "GetServices": get_services,
    "GetScopes": get_scopes,
    "GetHostname": get_hostname,
    "GetServiceCapabilities": get_service_capabilities,
    "StartFirmwareUpgrade": start_firmware_upgrade,
}

# Operations ONVIF lets a client call before authenticating (Core spec access class PRE_AUTH).
PRE_AUTH = {"GetSystemDateAndTime", "GetCapabilities", "GetServices", "GetHostname"}
