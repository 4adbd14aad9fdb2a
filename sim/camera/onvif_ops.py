"""What every ONVIF operation handler receives and may raise."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from sim.camera.context import CameraContext


@dataclass(frozen=True)
class OnvifRequest:
    ctx: CameraContext
    op: ET.Element  # the first Body child
    reached_host: str  # host the client used, from the HTTP Host header
    path: str = ""  # request path with query (subscription addresses carry their id there)
    header: ET.Element | None = None  # the SOAP Header, for WS-Addressing and reference params


class OnvifFault(Exception):
    """Answered as a SOAP fault, e.g. ("Receiver", "ter:ActionNotSupported", "...")."""

    def __init__(self, code: str, subcode: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.status = status


def not_supported(what: str) -> OnvifFault:
    return OnvifFault("Receiver", "ter:ActionNotSupported", f"{what} is not supported", 500)


Handler = Callable[[OnvifRequest], str]
