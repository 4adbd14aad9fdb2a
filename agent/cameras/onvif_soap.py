"""The zeep boundary: service proxies built from onvif-zeep's bundled WSDLs, WS-Security with
Z-form timestamps and clock-offset correction, and classification of every library failure
into our exception tree.

We deliberately do not use ``onvif.ONVIFCamera``: it creates a PullPoint subscription on every
construction (cameras have a handful of slots), trusts XAddrs as given and cannot correct the
WS-Security clock before the first authenticated call. Importing ``onvif`` itself would also
reconfigure the root logger, so its WSDL folder is located without importing it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import threading
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests
import zeep
import zeep.exceptions
from requests.auth import HTTPDigestAuth
from zeep.transports import Transport
from zeep.wsdl import Document
from zeep.wsse.username import UsernameToken

from agent.cameras import soap_reply
from agent.cameras.errors import (
    AuthError,
    CameraError,
    CameraTimeout,
    NotSupportedError,
    ProtocolError,
    UnreachableError,
)
from agent.cameras.redact import redact_text, redact_url

log = logging.getLogger(__name__)

BINDINGS = {
    "device": ("devicemgmt.wsdl", "http://www.onvif.org/ver10/device/wsdl", "DeviceBinding"),
    "media": ("media.wsdl", "http://www.onvif.org/ver10/media/wsdl", "MediaBinding"),
    "ptz": ("ptz.wsdl", "http://www.onvif.org/ver20/ptz/wsdl", "PTZBinding"),
}
_docs: dict[str, Document] = {}
_docs_lock = threading.Lock()


def wsdl_dir() -> Path:
    spec = importlib.util.find_spec("onvif")
    if spec is None or not spec.submodule_search_locations:
        raise CameraError("onvif-zeep is not installed (its WSDL files are needed)")
    return Path(next(iter(spec.submodule_search_locations))).parent / "wsdl"


def _document(filename: str) -> Document:
    """Parsed WSDLs are shared by every camera: parsing ONVIF's schemas takes about a second."""
    with _docs_lock:
        if filename not in _docs:
            settings = zeep.Settings(strict=False, xml_huge_tree=True)
            # zeep's annotation says a Transport class; it uses an instance.
            loader: Any = Transport()
            _docs[filename] = Document(str(wsdl_dir() / filename), loader, settings=settings)
        return _docs[filename]


class ClockedToken(UsernameToken):
    """WS-Security UsernameToken (digest) whose ``Created`` is our UTC clock plus the measured
    camera offset, written in ``Z`` form (Hikvision rejects ``+00:00``), with a fresh nonce."""

    def __init__(self, username: str, password: str) -> None:
        super().__init__(username, password, use_digest=True, zulu_timestamp=True)
        self.offset_s = 0.0

    def apply(self, envelope: Any, headers: Any) -> Any:
        self.created = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset_s)
        try:
            return super().apply(envelope, headers)
        finally:
            self.created = None


MAX_REPLY_BYTES = 4 << 20  # the largest SOAP reply read (GetProfiles of a 64-channel NVR is ~1 MB)


class CameraTransport(Transport):
    """Remembers the camera's HTTP Date header (a clock hint when GetSystemDateAndTime needs
    authentication), turns HTTP 401/403 into AuthError whatever the body (HTML pages hide as
    "Unknown fault"), and reads every reply through :mod:`agent.cameras.soap_reply`: faults
    are classified there whatever their spelling, and zeep only ever sees canonical SOAP 1.2
    UTF-8 (``last_repair`` says when undecodable bytes had to be replaced)."""

    def __init__(self, username: str, password: str, timeout_s: float, secrets: list[str]) -> None:
        session = requests.Session()
        if username:
            session.auth = HTTPDigestAuth(username, password)  # cameras answering HTTP Digest
        super().__init__(session=session, timeout=timeout_s, operation_timeout=timeout_s)
        self.secrets = secrets
        self.camera_date: dt.datetime | None = None
        self.date_seen_at: dt.datetime | None = None
        self.last_repair = ""  # why the last reply's text was repaired ("" = it was not)

    def post(self, address: str, message: Any, headers: Any) -> requests.Response:
        """zeep's post without its debug log of whole messages (they carry the WS-Security
        header), reading at most MAX_REPLY_BYTES: a camera answering without end is refused
        instead of filling the gateway's memory."""
        response = self.session.post(
            address, data=message, headers=headers, timeout=self.operation_timeout, stream=True
        )
        with response:
            body = response.raw.read(MAX_REPLY_BYTES + 1, decode_content=True)
        if len(body) > MAX_REPLY_BYTES:
            raise ProtocolError(f"{redact_url(address)}: reply over {MAX_REPLY_BYTES} bytes")
        response._content = body
        self._note_date(response)
        reply = self._read(response, address)
        response._content = reply.body
        return response

    def _read(self, response: requests.Response, address: str) -> soap_reply.Reply:
        """The reply checked by :func:`read_soap` and :func:`raise_for_fault`, noting between
        the two whether its text had to be repaired."""
        shown, status = redact_url(address), response.status_code
        charset = soap_reply.charset_of(response.headers.get("Content-Type"))
        reply = read_soap(response.content or b"", status, charset, shown)
        self.last_repair = reply.repaired
        if reply.repaired:
            log.info("camera %s: reply text repaired: %s", shown, reply.repaired)
        raise_for_fault(reply, status, shown, self.secrets)
        return reply

    def _note_date(self, response: requests.Response) -> None:
        header = response.headers.get("Date")
        if not header:
            return
        try:
            self.camera_date = parsedate_to_datetime(header)
            self.date_seen_at = dt.datetime.now(dt.UTC)
        except (TypeError, ValueError):
            self.camera_date = None


def fault_error(fault: soap_reply.Fault, where: str, secrets: list[str]) -> CameraError:
    """Our exception for a SOAP fault, chosen by its codes' local names, then its reason."""
    codes = "/".join(fault.codes[-2:]) or "fault"
    detail = redact_text(f"{codes}: {fault.reason}" if fault.reason else codes, secrets)[:200]
    kind = fault.kind
    if kind == "auth":
        return AuthError(f"{where}: credentials rejected ({detail})")
    if kind == "unsupported":
        return NotSupportedError(f"{where}: not supported ({detail})")
    return ProtocolError(f"{where}: SOAP fault ({detail})")


def read_soap(raw: bytes, status: int, charset: str | None, shown: str) -> soap_reply.Reply:
    """A camera's reply decoded and checked to be SOAP: HTTP 401/403 is AuthError whatever the
    body (HTML pages hide as "Unknown fault"); a body that is not a SOAP envelope is
    ProtocolError. The zeep transport and the event client read every reply here and through
    :func:`raise_for_fault`, so a camera's answer means the same whichever path meets it."""
    if status in (401, 403):
        raise AuthError(f"{shown}: HTTP {status}")
    not_soap = f"{shown}: HTTP {status}, not SOAP"
    try:
        reply = soap_reply.read_reply(raw, charset)
    except soap_reply.ReplyError as exc:
        raise ProtocolError(
            not_soap if status >= 300 else f"{shown}: malformed SOAP reply"
        ) from exc
    if not reply.is_envelope:
        raise ProtocolError(not_soap if status >= 300 else f"{shown}: XML but not SOAP")
    return reply


FaultMapper = Callable[[soap_reply.Fault, str, list[str]], CameraError]


def raise_for_fault(
    reply: soap_reply.Reply,
    status: int,
    shown: str,
    secrets: list[str],
    to_error: FaultMapper = fault_error,
) -> None:
    """A SOAP fault becomes our exception (``to_error``: :func:`fault_error` unless told), read
    by local names, so no envelope spelling can turn rejected credentials into a parse error;
    an error status without a fault is ProtocolError."""
    if reply.fault is not None:
        raise to_error(reply.fault, shown, secrets)
    if status >= 300:
        raise ProtocolError(f"{shown}: HTTP {status} without a SOAP fault")


def make_proxy(kind: str, address: str, token: ClockedToken | None, transport: Transport) -> Any:
    """A zeep service proxy for ``kind`` ("device", "media", "ptz") bound to ``address``."""
    filename, namespace, binding = BINDINGS[kind]
    client = zeep.Client(
        wsdl=_document(filename),
        wsse=token,
        transport=transport,
        settings=zeep.Settings(strict=False, xml_huge_tree=True),
    )
    return client.create_service(f"{{{namespace}}}{binding}", address)


def _as_fault(fault: zeep.exceptions.Fault) -> soap_reply.Fault:
    """zeep's fault in our reader's terms, so both paths classify alike."""
    codes = [str(fault.code or ""), *(str(code) for code in (fault.subcodes or []))]
    local = tuple(code.rsplit("}", 1)[-1].rsplit(":", 1)[-1] for code in codes if code)
    return soap_reply.Fault(local, str(fault.message or ""))


def classify(exc: BaseException, what: str, secrets: list[str]) -> CameraError:  # noqa: PLR0911 - a table of failure kinds
    """Map a zeep/requests failure on ``what`` (e.g. "GetProfiles at http://…") to our tree."""
    if isinstance(exc, CameraError):
        return exc
    if isinstance(exc, requests.Timeout):
        return CameraTimeout(f"{what}: no answer in time")
    if isinstance(exc, requests.ConnectionError):
        return UnreachableError(f"{what}: connection failed ({type(exc).__name__})")
    if isinstance(exc, zeep.exceptions.TransportError):
        if exc.status_code in (401, 403):
            return AuthError(f"{what}: HTTP {exc.status_code}")
        if exc.status_code == 200:
            return ProtocolError(f"{what}: malformed SOAP reply")
        return ProtocolError(f"{what}: HTTP {exc.status_code}")
    if isinstance(exc, zeep.exceptions.Fault):
        return fault_error(_as_fault(exc), what, secrets)
    if isinstance(exc, zeep.exceptions.XMLSyntaxError | zeep.exceptions.XMLParseError):
        return ProtocolError(f"{what}: malformed SOAP reply")
    if isinstance(exc, zeep.exceptions.Error | ValueError | LookupError | AttributeError):
        return ProtocolError(f"{what}: unexpected reply ({type(exc).__name__})")
    return ProtocolError(f"{what}: {type(exc).__name__}")


def call(proxy: Any, operation: str, what: str, secrets: list[str], **kwargs: Any) -> Any:
    """Invoke one SOAP operation; only our exceptions come out."""
    try:
        result = getattr(proxy, operation)(**kwargs)
    except Exception as exc:
        raise classify(exc, what, secrets) from exc
    if result is None:
        raise ProtocolError(f"{what}: empty reply")
    return result
