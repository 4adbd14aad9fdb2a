"""ONVIF client: device information, services, media profiles, stream and snapshot URIs and the
camera's clock, for one camera reached at one device-service URL.

No request is retried here (callers wrap whole visits in ``ONVIF_RETRY``), every request has
the configured timeout, and nothing is subscribed or changed on the camera.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from agent.cameras.config import CameraConfig, StreamPolicy
from agent.cameras.errors import AuthError, NotSupportedError, ProtocolError
from agent.cameras.onvif_models import DeviceInfo, ProbeResult, StreamInfo
from agent.cameras.onvif_soap import CameraTransport, ClockedToken, call, make_proxy
from agent.cameras.redact import redact_url
from agent.cameras.streams import choose_streams, rewrite_media_uri, rewrite_xaddr
from common.redact import register_secret

log = logging.getLogger(__name__)

SERVICE_NAMES = {
    "http://www.onvif.org/ver10/device/wsdl": "device",
    "http://www.onvif.org/ver10/media/wsdl": "media",
    "http://www.onvif.org/ver20/media/wsdl": "media2",
    "http://www.onvif.org/ver10/events/wsdl": "events",
    "http://www.onvif.org/ver20/ptz/wsdl": "ptz",
    "http://www.onvif.org/ver20/imaging/wsdl": "imaging",
}
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
MAX_PROFILES = 16


def zeep_path(obj: Any, *path: str) -> Any:
    """Walk optional zeep attributes; None when any step is missing (cameras omit a lot)."""
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _text(reply: Any, name: str) -> str:
    return str(zeep_path(reply, name) or "").strip()


def _utc_of(reply: Any) -> dt.datetime | None:
    when = zeep_path(reply, "UTCDateTime")
    date, time_ = zeep_path(when, "Date"), zeep_path(when, "Time")
    try:
        return dt.datetime(
            int(date.Year), int(date.Month), int(date.Day),
            int(time_.Hour), int(time_.Minute), int(time_.Second), tzinfo=dt.UTC,
        )  # fmt: skip
    except (AttributeError, TypeError, ValueError):
        return None


def timezone_note(skew_s: float) -> str:
    """Cameras that label local time as UTC show a skew close to a whole quarter hour."""
    quarters = round(skew_s / 900)
    if quarters and abs(skew_s - quarters * 900) < 120:
        return f"camera clock is {skew_s / 3600:+.2f} h off: local time reported as UTC?"
    return ""


class OnvifClient:
    """One camera. ``probe()`` runs the whole visit; the single steps are public for the CLI."""

    def __init__(
        self,
        url: str,
        username: str = "",
        password: str = "",
        *,
        timeout_s: float = 5.0,
        max_skew_s: float = 5.0,
    ) -> None:
        register_secret(password)  # zeep and requests echo requests back in their errors
        self.url = url
        self.shown = redact_url(url)
        self._secrets = [password] if password else []
        self._transport = CameraTransport(username, password, timeout_s, self._secrets)
        self._token = ClockedToken(username, password) if username else None
        self._max_skew = max_skew_s
        self._anon = make_proxy("device", url, None, self._transport)
        self._device = make_proxy("device", url, self._token, self._transport)
        self.skew_s: float | None = None
        self.notes: list[str] = []

    @classmethod
    def for_camera(cls, config: CameraConfig, url: str) -> OnvifClient:
        """The client for a configured camera at ``url`` (its device address), with the
        camera's credentials, timeout and clock-skew allowance."""
        return cls(
            url,
            config.username,
            config.password.get_secret_value(),
            timeout_s=config.onvif_timeout_s,
            max_skew_s=config.max_clock_skew_s,
        )

    def _call(self, proxy: Any, operation: str, **kwargs: Any) -> Any:
        return call(proxy, operation, f"{operation} at {self.shown}", self._secrets, **kwargs)

    def device_call(self, operation: str, **kwargs: Any) -> Any:
        """One authenticated device-service operation (firmware upgrade and other steps that
        are not part of the visit); only our exceptions come out."""
        return self._call(self._device, operation, **kwargs)

    def proxy(self, kind: str, url: str) -> Any:
        """An authenticated proxy for another of the camera's services ("media", "ptz"), on
        this client's session, WS-Security clock offset and redaction."""
        return make_proxy(kind, url, self._token, self._transport)

    def request(self, proxy: Any, operation: str, **kwargs: Any) -> Any:
        """One operation on a proxy from :meth:`proxy`; only our exceptions come out."""
        return self._call(proxy, operation, **kwargs)

    # -- clock -------------------------------------------------------------------------------

    def _measure(self, reply: Any) -> float | None:
        camera = _utc_of(reply)
        if camera is None:
            return None
        return (camera - dt.datetime.now(dt.UTC)).total_seconds()

    def _skew_from_http_date(self) -> float | None:
        seen, date = self._transport.date_seen_at, self._transport.camera_date
        if seen is None or date is None:
            return None
        return (date - seen).total_seconds()

    def sync_clock(self) -> float | None:
        """Measure the camera's clock offset and use it for WS-Security ``Created``. Asked
        without authentication first (the usual case), then with it (Axis), and as a last
        resort read from the HTTP Date header of any reply."""
        skew: float | None = None
        for proxy in (self._anon, self._device):
            try:
                skew = self._measure(self._call(proxy, "GetSystemDateAndTime"))
                break
            except AuthError:
                continue
            except (NotSupportedError, ProtocolError):
                self.notes.append("GetSystemDateAndTime unavailable")
                break
        if skew is None:
            skew = self._skew_from_http_date()
            if skew is not None:
                self.notes.append("clock taken from the HTTP Date header")
        self.skew_s = skew
        if self._token is not None and skew is not None:
            self._token.offset_s = skew
        return skew

    # -- device ------------------------------------------------------------------------------

    def device_info(self) -> DeviceInfo:
        """The first authenticated request, so it also settles the WS-Security clock: a camera
        that reports local time as UTC still checks ``Created`` against true UTC, so a rejected
        corrected timestamp is tried once more uncorrected (one extra attempt, not a storm)."""
        try:
            reply = self._call(self._device, "GetDeviceInformation")
        except AuthError as exc:
            token = self._token
            if token is None or abs(token.offset_s) <= self._max_skew / 2:
                raise self._auth_error() from exc
            token.offset_s = 0.0
            try:
                reply = self._call(self._device, "GetDeviceInformation")
            except AuthError as again:
                raise self._auth_error() from again
            self.notes.append("camera checks WS-Security against true UTC, not the time it reports")
        repaired = self._transport.last_repair
        info = DeviceInfo(
            manufacturer=_text(reply, "Manufacturer"),
            model=_text(reply, "Model"),
            firmware=_text(reply, "FirmwareVersion"),
            serial=_text(reply, "SerialNumber"),
            hardware=_text(reply, "HardwareId"),
            text_repaired=bool(repaired),
        )
        if repaired:
            self.notes.append(f"device information text repaired ({repaired})")
        if not info.identity_certain:
            self.notes.append("identification unsure: manufacturer or model unreadable or missing")
        return info

    def _auth_error(self) -> AuthError:
        skew = self.skew_s
        if skew is None:
            return AuthError(
                f"{self.shown}: credentials rejected (wrong user or password, or the camera "
                "clock is off and could not be read)"
            )
        if abs(skew) > self._max_skew:
            return AuthError(
                f"{self.shown}: credentials rejected; the camera clock is {skew:+.0f} s off, "
                "which breaks WS-Security: check the password and set the camera's time (NTP)",
                clock_skew_s=skew,
            )
        return AuthError(f"{self.shown}: credentials rejected (wrong user or password)")

    def services(self) -> dict[str, str]:
        """Service XAddrs, rewritten to the address we reached the device on. Falls back to
        GetCapabilities for cameras without GetServices."""
        found: dict[str, str] = {}
        try:
            reply = self._call(self._device, "GetServices", IncludeCapability=False)
            for service in reply or []:
                name = SERVICE_NAMES.get(str(zeep_path(service, "Namespace") or ""))
                xaddr = zeep_path(service, "XAddr")
                if name and xaddr:
                    found[name] = rewrite_xaddr(str(xaddr), self.url)
        except (NotSupportedError, ProtocolError):
            self.notes.append("no GetServices: used GetCapabilities")
        if "media" not in found:
            caps = self._call(self._device, "GetCapabilities", Category="All")
            for name in ("Media", "Events", "PTZ", "Imaging"):
                xaddr = zeep_path(caps, name, "XAddr")
                if xaddr:
                    found.setdefault(name.lower(), rewrite_xaddr(str(xaddr), self.url))
        found.setdefault("device", self.url)
        return found

    # -- media -------------------------------------------------------------------------------

    def streams(self, media_url: str) -> tuple[list[StreamInfo], Any]:
        """Profiles with their RTSP URIs; returns the media proxy for further calls."""
        media = make_proxy("media", media_url, self._token, self._transport)
        profiles = self._call(media, "GetProfiles") or []
        out = []
        for profile in list(profiles)[:MAX_PROFILES]:
            token = str(zeep_path(profile, "token") or "")
            if not token:
                continue
            enc = zeep_path(profile, "VideoEncoderConfiguration")
            try:
                reply = self._call(
                    media, "GetStreamUri", StreamSetup=STREAM_SETUP, ProfileToken=token
                )
            except (NotSupportedError, ProtocolError) as exc:
                log.info("camera %s: no stream URI for %s: %s", self.shown, token, exc)
                continue
            uri = rewrite_media_uri(str(zeep_path(reply, "Uri") or ""), self.url)
            encoding = str(zeep_path(enc, "Encoding") or "").upper().replace(".", "")
            if not encoding:
                self.notes.append(f"profile {token}: empty encoder fields (H.265 on Media1?)")
            out.append(
                StreamInfo(
                    token=token,
                    name=str(zeep_path(profile, "Name") or ""),
                    encoding=encoding,
                    width=int(zeep_path(enc, "Resolution", "Width") or 0),
                    height=int(zeep_path(enc, "Resolution", "Height") or 0),
                    fps=float(zeep_path(enc, "RateControl", "FrameRateLimit") or 0),
                    uri=uri,
                )
            )
        return out, media

    def snapshot_uri(self, media: Any, token: str) -> str | None:
        try:
            reply = self._call(media, "GetSnapshotUri", ProfileToken=token)
        except (NotSupportedError, ProtocolError) as exc:
            self.notes.append("no snapshot URI")
            log.info("camera %s: %s", self.shown, exc)
            return None
        uri = str(zeep_path(reply, "Uri") or "")
        if not uri:
            return None
        if "@" in uri.split("//", 1)[-1].split("/", 1)[0]:
            self.notes.append("snapshot URI embeds credentials (redacted)")
        return rewrite_media_uri(uri, self.url)

    def probe(self, policy: StreamPolicy | None = None) -> ProbeResult:
        """The whole visit: clock, identity, services, streams, snapshot URI."""
        result = ProbeResult(address=self.url)
        result.clock_skew_s = self.sync_clock()
        result.device = self.device_info()
        result.services = self.services()
        result.streams, media = self.streams(result.services.get("media", self.url))
        result.main, result.sub = choose_streams(result.streams, policy or StreamPolicy())
        if result.main is not None:
            result.snapshot_uri = self.snapshot_uri(media, result.main.token)
        if result.clock_skew_s is not None:
            result.clock_skew_s = round(result.clock_skew_s, 1)
            result.clock_note = timezone_note(result.clock_skew_s)
        result.notes = list(dict.fromkeys(self.notes))
        return result
