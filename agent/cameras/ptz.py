"""The camera's ONVIF PTZ service, read only: which presets it has and where the head is.

Nothing here moves the camera. A camera whose services do not include PTZ, or whose media
profiles cannot be read, raises :class:`PtzUnsupported`; every other failure is one of our
camera errors (see :mod:`agent.cameras.errors`).
"""

from __future__ import annotations

import math
from typing import Any

from agent.cameras.errors import NotSupportedError
from agent.cameras.onvif_client import OnvifClient, zeep_path
from agent.cameras.ptz_moves import Position, PresetInfo, PtzStatus

MAX_PRESETS = 64
_MOVING = {"MOVING"}
_RESTING = {"IDLE"}


class PtzUnsupported(NotSupportedError):
    """The camera has no PTZ service (a fixed camera): checked again only rarely."""


def _position(vector: Any) -> Position | None:
    """PanTilt x/y and Zoom x of a PTZVector; None when the camera gives no position or one
    that is not a finite number. Values outside the camera's declared space are kept as given:
    they are only compared with the camera's own earlier values and presets."""
    pan, tilt = zeep_path(vector, "PanTilt", "x"), zeep_path(vector, "PanTilt", "y")
    zoom = zeep_path(vector, "Zoom", "x")
    if pan is None and zoom is None:
        return None
    try:
        position = float(pan or 0.0), float(tilt or 0.0), float(zoom or 0.0)
    except (TypeError, ValueError, OverflowError):
        return None
    # NaN or infinity says nothing about where the head is (and would compare false forever).
    return position if all(math.isfinite(v) for v in position) else None


def _move_status(status: Any) -> bool | None:
    """MOVING on either axis → True; IDLE on every reported axis → False; else None."""
    values = {
        str(v).upper() for v in (zeep_path(status, "MoveStatus", "PanTilt"),
                                 zeep_path(status, "MoveStatus", "Zoom")) if v is not None
    }  # fmt: skip
    if values & _MOVING:
        return True
    if values and values <= _RESTING:
        return False
    return None


def choose_profile(profiles: list[Any]) -> str:
    """The profile the PTZ calls name: the first with a PTZ configuration, else the first."""
    tokens = [
        (str(zeep_path(p, "token") or ""), zeep_path(p, "PTZConfiguration")) for p in profiles
    ]
    tokens = [(t, c) for t, c in tokens if t]
    if not tokens:
        raise PtzUnsupported("the camera lists no media profile for PTZ calls")
    return next((t for t, c in tokens if c is not None), tokens[0][0])


class PtzLink:
    """PTZ calls for one camera through an authenticated :class:`OnvifClient`."""

    def __init__(self, client: OnvifClient, ptz_url: str, profile: str) -> None:
        self.client = client
        self.profile = profile
        self._proxy = client.proxy("ptz", ptz_url)

    @classmethod
    def connect(cls, client: OnvifClient) -> PtzLink:
        """Clock, services and the profile token: about four requests, once per connection."""
        client.sync_clock()
        services = client.services()
        ptz_url = services.get("ptz")
        if not ptz_url:
            raise PtzUnsupported("the camera lists no PTZ service")
        media = client.proxy("media", services.get("media", client.url))
        profiles = list(client.request(media, "GetProfiles") or [])
        return cls(client, ptz_url, choose_profile(profiles))

    def presets(self) -> list[PresetInfo]:
        reply = self.client.request(self._proxy, "GetPresets", ProfileToken=self.profile)
        out = []
        for preset in list(reply or [])[:MAX_PRESETS]:
            token = str(zeep_path(preset, "token") or "")
            if token:
                name = str(zeep_path(preset, "Name") or "")
                out.append(PresetInfo(token, name, _position(zeep_path(preset, "PTZPosition"))))
        return out

    def status(self) -> PtzStatus:
        reply = self.client.request(self._proxy, "GetStatus", ProfileToken=self.profile)
        return PtzStatus(_move_status(reply), _position(zeep_path(reply, "Position")))
