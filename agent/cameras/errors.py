"""Our exception tree for everything camera-related.

onvif-zeep, zeep, requests and OpenCV each fail in their own ways (``ONVIFError("Unknown
error")``, ``XMLParseError``, ``TransportError``, a ``False`` from ``isOpened()``). Callers only
ever see these classes, so retry policies and health reporting can decide on the *kind* of
failure. Messages never carry credentials: every message passes :func:`common.redact.redact`
(the configured passwords and any URL user-info are masked) however it was built.
"""

from __future__ import annotations

from common.redact import redact

BASIC_OVER_HTTP = "camera asks for Basic over plain HTTP; set allow_basic_over_http to allow"


class CameraError(Exception):
    """Base for every camera failure; ``camera`` names the camera when known."""

    def __init__(self, message: str, *, camera: str = "") -> None:
        super().__init__(redact(f"{camera}: {message}" if camera else message))
        self.camera = camera


class AuthError(CameraError):
    """Credentials were rejected (or the camera's clock is too far off for WS-Security).

    Never retried: a wrong password retried in a loop locks accounts on many cameras."""

    def __init__(
        self, message: str, *, camera: str = "", clock_skew_s: float | None = None
    ) -> None:
        super().__init__(message, camera=camera)
        self.clock_skew_s = clock_skew_s


class ClearTextAuthRefused(AuthError):
    """The camera accepts only HTTP/RTSP Basic on an unencrypted connection, which would put the
    password on the wire readable by anyone on the path; we do not send it unless the camera's
    ``allow_basic_over_http`` says so. Final like any authentication failure."""

    def __init__(self, what: str, *, camera: str = "") -> None:
        super().__init__(f"{what}: {BASIC_OVER_HTTP}", camera=camera)


class CameraTimeout(CameraError):
    """The camera accepted the connection (or was expected to) but did not answer in time."""


class UnreachableError(CameraError):
    """Nothing listens at the address, or the network refused or reset the connection."""


class ProtocolError(CameraError):
    """The camera answered, but not with something we can understand (malformed SOAP, HTTP 500,
    a fault we cannot classify)."""


class NotSupportedError(CameraError):
    """The camera does not offer the requested operation (no GetServices, no snapshot)."""


class StreamError(CameraError):
    """An RTSP stream could not be opened or stopped delivering frames."""


class StreamNotFoundError(CameraError):
    """The camera answers RTSP but has no stream at the configured path (404): a configuration
    mistake, so it is parked and re-checked rarely like an authentication failure."""


RETRYABLE: tuple[type[CameraError], ...] = (CameraTimeout, UnreachableError, StreamError)
"""Failures worth another try; authentication, protocol and not-supported errors are final."""
