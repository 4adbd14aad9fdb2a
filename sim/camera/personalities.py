"""Vendor personalities: how each family of real cameras names and serves things.

A personality is identity plus default quirks; a test picks one and may switch quirks on or off.
"""

from __future__ import annotations

from pydantic import Field

from sim.camera.models import Quirks, SimModel


class StreamNames(SimModel):
    """Names of one stream as the camera publishes them."""

    profile: str = Field(description="ONVIF profile token")
    name: str = Field(description="ONVIF profile name")
    rtsp_path: str = Field(description="RTSP path with query, e.g. /Streaming/Channels/101")


class Personality(SimModel):
    """Everything vendor-specific a simulated camera says or does."""

    name: str = Field(description="personality key, e.g. hikvision")
    manufacturer: str
    model: str
    firmware: str
    hardware_id: str = "1.0"
    serial: str = "SIM0000000001"
    device_path: str = Field(default="/onvif/device_service", description="Device service path")
    media_path: str = Field(default="/onvif/media_service", description="Media service path")
    events_path: str = Field(default="/onvif/event_service", description="Event service path")
    ptz_path: str = Field(default="/onvif/ptz_service", description="PTZ service path")
    snapshot_path: str | None = Field(
        default="/onvif/snapshot", description="HTTP path of the JPEG snapshot; None = no snapshot"
    )
    realm: str = Field(default="Kendali Sim", description="HTTP and RTSP Digest realm")
    main: StreamNames
    sub: StreamNames
    default_onvif_port: int = Field(
        default=80, description="port a real unit listens on (CLI hint)"
    )
    server_header: str = Field(default="kendali-sim", description="HTTP Server header")
    quirks: Quirks = Field(default=Quirks(), description="default quirks of the vendor")


def _q(**kwargs: object) -> Quirks:
    return Quirks.model_validate(kwargs)


_ALL = [
    Personality(
        name="textbook",
        manufacturer="Kendali",
        model="SimCam-1",
        firmware="1.0.0",
        main=StreamNames(profile="profile_main", name="MainStream", rtsp_path="/media/main"),
        sub=StreamNames(profile="profile_sub", name="SubStream", rtsp_path="/media/sub"),
        quirks=_q(ptz=True),
    ),
    Personality(
        name="hikvision",
        manufacturer="HIKVISION",
        model="DS-2CD2143G2-I",
        firmware="V5.7.3 build 220112",
        serial="DS-2CD2143G2-I20220101AAWRG12345678",
        snapshot_path="/ISAPI/Streaming/channels/101/picture",
        realm="IP Camera(C1234)",
        main=StreamNames(
            profile="Profile_1",
            name="mainStream",
            rtsp_path="/Streaming/Channels/101?transportmode=unicast&profile=Profile_1",
        ),
        sub=StreamNames(
            profile="Profile_2",
            name="subStream",
            rtsp_path="/Streaming/Channels/102?transportmode=unicast&profile=Profile_2",
        ),
        server_header="App-webs/",
        quirks=_q(zulu_created_only=True, rtsp_max_clients=6, ptz=True),
    ),
    Personality(
        name="dahua",
        manufacturer="Dahua",
        model="IPC-HDW2431T-AS-S2",
        firmware="V2.800.0000018.0.R, Build Date: 2021-07-07",
        serial="6G0ABCDPAZ12345",
        snapshot_path="/onvifsnapshot/media_service/snapshot",
        realm="Login to 6G0ABCDPAZ12345",
        main=StreamNames(
            profile="MediaProfile000",
            name="MediaProfile_Channel1_MainStream",
            rtsp_path="/cam/realmonitor?channel=1&subtype=0&unicast=true&proto=Onvif",
        ),
        sub=StreamNames(
            profile="MediaProfile001",
            name="MediaProfile_Channel1_SubStream1",
            rtsp_path="/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif",
        ),
        server_header="Webs",
        quirks=_q(h265_main=True, digest_only_401=True, rtsp_max_clients=6, events_bool_style="1"),
    ),
    Personality(
        name="axis",
        manufacturer="AXIS",
        model="M2025-LE",
        firmware="9.80.3.13",
        serial="ACCC8E012345",
        device_path="/onvif/services",
        media_path="/onvif/services",
        events_path="/onvif/services",
        ptz_path="/onvif/services",
        snapshot_path="/axis-cgi/jpg/image.cgi",
        realm="AXIS_ACCC8E012345",
        main=StreamNames(
            profile="profile_1_h264",
            name="profile_1 h264",
            rtsp_path="/onvif-media/media.amp?profile=profile_1_h264&sessiontimeout=60&streamtype=unicast",
        ),
        sub=StreamNames(
            profile="profile_2_h264",
            name="profile_2 h264",
            rtsp_path="/onvif-media/media.amp?profile=profile_2_h264&sessiontimeout=60&streamtype=unicast",
        ),
        server_header="Apache",
        quirks=_q(
            auth_all_requests=True,
            no_get_services=True,
            wsse_max_skew=2.0,
            rtsp_max_clients=20,
            events_reference_parameters=True,
            events_bool_style="1",
        ),
    ),
    Personality(
        name="tapo",
        manufacturer="TP-Link",
        model="Tapo C200",
        firmware="1.3.4 Build 230424 Rel.76394n(4555)",
        serial="0xA1B2C3D4",
        snapshot_path=None,
        realm="TP-LINK IP-Camera",
        main=StreamNames(profile="profile_1", name="mainStream", rtsp_path="/stream1"),
        sub=StreamNames(profile="profile_2", name="minorStream", rtsp_path="/stream2"),
        default_onvif_port=2020,
        quirks=_q(
            single_service_xaddr="/onvif/service",
            snapshot_unsupported=True,
            rtsp_max_clients=2,
            events_require_termination=True,
            events_max_pullpoints=2,
        ),
    ),
    Personality(
        name="generic",
        manufacturer="Technology",
        model="IPC",
        firmware="13.01.00.44",
        serial="00E0F8000001",
        snapshot_path=None,
        realm="IPC",
        main=StreamNames(profile="IPCProfilesToken0", name="MainStream", rtsp_path="/onvif1"),
        sub=StreamNames(profile="IPCProfilesToken1", name="SubStream", rtsp_path="/onvif2"),
        default_onvif_port=8899,
        quirks=_q(
            envelope_prefix="SOAP-ENV",  # gSOAP-based firmware
            undeclared_ter_prefix=True,
            malformed_xaddr_port=True,
            snapshot_rtsp_with_password=True,
            password_text_allowed=True,
            rtsp_auth="none",
            rtsp_max_clients=2,
            rtsp_session_timeout=30,
            discovery_types="nvt",
            events_pullpoint=False,
        ),
    ),
]

PERSONALITIES: dict[str, Personality] = {p.name: p for p in _ALL}


def get_personality(name: str) -> Personality:
    """Look a personality up by key; the error lists the known keys."""
    try:
        return PERSONALITIES[name.lower()]
    except KeyError:
        known = ", ".join(sorted(PERSONALITIES))
        raise ValueError(f"personality: unknown {name!r}; known: {known}") from None
