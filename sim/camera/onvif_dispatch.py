"""From SOAP request bytes to an HTTP reply: parse, authenticate, run the operation, fault.

Auth failures are answered the way the personality's firmware does: a SOAP NotAuthorized fault,
an HTML 401 page, or a bare Digest 401. The operation is chosen by the body element, not the path,
as on cameras that serve every service from one endpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sim.camera import onvif_device, onvif_events, onvif_media, onvif_ptz
from sim.camera.context import CameraContext
from sim.camera.onvif_ops import OnvifFault, OnvifRequest
from sim.camera.soap import (
    NS,
    SOAP_CONTENT_TYPE,
    SoapParseError,
    Style,
    envelope,
    fault,
    parse_request,
    split_tag,
)
from sim.camera.wsse import NonceCache, WssePolicy, verify

log = logging.getLogger(__name__)

HTML_401 = (
    b"<!DOCTYPE html><html><head><title>Document Error: Unauthorized</title></head>"
    b"<body><h2>Access Error: 401 -- Unauthorized</h2><p>Authentication Error</p></body></html>"
)
_SERVICES = {
    NS["tds"]: onvif_device.HANDLERS,
    NS["trt"]: onvif_media.HANDLERS,
    NS["tev"]: onvif_events.HANDLERS,
    NS["tptz"]: onvif_ptz.HANDLERS,
    onvif_events.WSNT: onvif_events.SUBSCRIPTION_HANDLERS,
}


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": SOAP_CONTENT_TYPE})


def style_of(ctx: CameraContext) -> Style:
    """The envelope spelling the camera's quirks ask for."""
    q = ctx.quirks
    return Style(q.envelope_prefix, q.soap_version, q.reply_encoding, q.utf8_bom)


def _soap_reply(ctx: CameraContext, status: int, body: bytes) -> Reply:
    return Reply(status, body, {"Content-Type": style_of(ctx).content_type})


def _fault_reply(ctx: CameraContext, exc: OnvifFault) -> Reply:
    declare = not ctx.quirks.undeclared_ter_prefix
    body = fault(exc.code, exc.subcode, exc.reason, declare_ter=declare, style=style_of(ctx))
    return _soap_reply(ctx, exc.status, body)


def _unauthorised(ctx: CameraContext, reason: str) -> Reply:
    log.debug("onvif auth refused: %s", reason)
    if ctx.quirks.html_401:
        return Reply(401, HTML_401, {"Content-Type": "text/html"})
    if ctx.quirks.digest_only_401:
        return Reply(
            401, b"", {"WWW-Authenticate": ctx.digest.challenge(), "Content-Type": "text/plain"}
        )
    return _fault_reply(
        ctx, OnvifFault("Sender", "ter:NotAuthorized", f"Sender not authorized: {reason}")
    )


class Dispatcher:
    """Per-camera: holds the nonce replay cache; safe to call from many handler threads."""

    def __init__(self, ctx: CameraContext) -> None:
        self.ctx = ctx
        self.nonces = NonceCache()

    def _auth_error(self, header: object, op: str, http_auth: str | None) -> str | None:
        q = self.ctx.quirks
        if op in onvif_device.PRE_AUTH and not q.auth_all_requests:
            return None
        if http_auth and self.ctx.digest.check(http_auth, "POST"):
            return None
        policy = WssePolicy(
            username=self.ctx.username,
            password=self.ctx.password,
            camera_now=self.ctx.camera_time(),
            max_skew=q.wsse_max_skew,
            zulu_only=q.zulu_created_only,
            allow_text=q.password_text_allowed,
        )
        return verify(header, policy, self.nonces)  # type: ignore[arg-type]

    def handle(
        self, data: bytes, reached_host: str, http_auth: str | None, path: str = ""
    ) -> Reply:
        try:
            header, op = parse_request(data)
        except SoapParseError as exc:
            return _fault_reply(self.ctx, OnvifFault("Sender", "ter:WellFormed", str(exc)))
        ns, name = split_tag(op.tag)
        handler = _SERVICES.get(ns, {}).get(name)
        if handler is None:
            return _fault_reply(
                self.ctx,
                OnvifFault("Receiver", "ter:ActionNotSupported", f"{name} not supported", 500),
            )
        error = self._auth_error(header, name, http_auth)
        if error is not None:
            return _unauthorised(self.ctx, error)
        try:
            request = OnvifRequest(self.ctx, op, reached_host, path, header)
            body = envelope(handler(request), style_of(self.ctx))
            return _soap_reply(self.ctx, 200, body)
        except OnvifFault as exc:
            return _fault_reply(self.ctx, exc)
