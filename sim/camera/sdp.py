"""Session description for one H.264 stream (RFC 4566 + RFC 6184 §8.2)."""

from __future__ import annotations

import time

from sim.camera.h264 import RTP_PAYLOAD_TYPE, ParameterSets


def build_sdp(host: str, title: str, params: ParameterSets, fps: int) -> str:
    session = int(time.time())
    fmtp = (
        f"packetization-mode=1;profile-level-id={params.profile_level_id()};"
        f"sprop-parameter-sets={params.sprop()}"
    )
    lines = [
        "v=0",
        f"o=- {session} 1 IN IP4 {host}",
        f"s={title}",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "a=range:npt=0-",
        f"m=video 0 RTP/AVP {RTP_PAYLOAD_TYPE}",
        f"a=rtpmap:{RTP_PAYLOAD_TYPE} H264/90000",
        f"a=fmtp:{RTP_PAYLOAD_TYPE} {fmtp}",
        f"a=framerate:{fps}",
        "a=recvonly",
        "a=control:trackID=1",
    ]
    return "\r\n".join(lines) + "\r\n"
