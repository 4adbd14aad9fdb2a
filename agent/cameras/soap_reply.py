"""Tolerant reading of a camera's SOAP reply before zeep sees it.

Firmwares spell the same envelope many ways: gSOAP writes ``SOAP-ENV:``, others ``s:``, ``env:``
or a default namespace; some answer SOAP 1.1 to a SOAP 1.2 request; fault subcodes use a ``ter:``
prefix nobody declared; replies start with a byte order mark, declare ISO-8859-1, or carry
Latin-1 bytes under no declaration at all. zeep (and a strict XML parse) trip over several of
these, and a tripped parse used to hide rejected credentials behind "malformed SOAP reply".

So every reply is decoded here (BOM, then the XML declaration, then the HTTP charset, else
UTF-8; bytes that do not decode are replaced and the reply is marked *repaired* rather than
refused), parsed strictly, checked for a fault by local names only (any prefix, either SOAP
version, undeclared prefixes in code values), and handed to zeep re-serialised as one canonical
form: SOAP 1.2, UTF-8, no BOM. All functions here are pure.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
# ONVIF's customary prefixes, declared for a reply that uses one without declaring it.
KNOWN_PREFIXES = {
    "ter": "http://www.onvif.org/ver10/error",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
}
# Fault codes by local name, lower case: ONVIF's (Core spec, ter:) and WS-Security's (wsse:).
AUTH_CODES = frozenset(
    {"notauthorized", "failedauthentication", "invalidsecurity", "invalidsecuritytoken",
     "failedcheck", "securitytokenunavailable", "messageexpired", "unsupportedsecuritytoken",
     "senderNotAuthorized".lower(), "authorityfailure"}
)  # fmt: skip
UNSUPPORTED_CODES = frozenset(
    {"actionnotsupported", "actionnotimplemented", "notimplemented", "operationnotsupported",
     "nosuchservice"}
)  # fmt: skip
# When the codes are only the generic Sender/Receiver/Client/Server, the reason text decides.
AUTH_WORDS = ("notauthorized", "not authorized", "unauthorized", "authorization",
              "failedauthentication", "invalidsecurity", "authority failure", "password",
              "sender not authorized")  # fmt: skip
UNSUPPORTED_WORDS = ("actionnotsupported", "actionnotimplemented", "not supported",
                     "notimplemented", "unsupported", "no such operation")  # fmt: skip
FaultKind = Literal["auth", "unsupported", "other"]

_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ROOT_TAG = re.compile(r"<(?![?!])[^\s/>]+")
_STRICT = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class ReplyError(ValueError):
    """The reply is not a well-formed XML document even after decoding."""


@dataclass(frozen=True)
class Decoded:
    """A reply as text; ``repaired`` says why some bytes were replaced ("" when none were)."""

    text: str
    encoding: str
    repaired: str = ""


@dataclass(frozen=True)
class Fault:
    """A SOAP fault read by local names: ``codes`` outermost first (``Sender``,
    ``NotAuthorized``), prefixes dropped whether or not they were declared."""

    codes: tuple[str, ...]
    reason: str

    @property
    def kind(self) -> FaultKind:
        codes = {code.lower() for code in self.codes}
        if codes & AUTH_CODES:
            return "auth"
        if codes & UNSUPPORTED_CODES:
            return "unsupported"
        text = " ".join([*self.codes, self.reason]).lower()
        if any(word in text for word in AUTH_WORDS):
            return "auth"
        if any(word in text for word in UNSUPPORTED_WORDS):
            return "unsupported"
        return "other"


@dataclass(frozen=True)
class Reply:
    """A reply made fit for zeep: ``body`` is canonical (SOAP 1.2, UTF-8); ``fault`` is set
    when the body holds one."""

    body: bytes
    fault: Fault | None
    repaired: str = ""
    is_envelope: bool = True


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(raw: bytes, http_charset: str | None = None) -> Decoded:
    """Bytes → text: BOM, else declared encoding, else the HTTP charset, else UTF-8. Bytes
    invalid in that encoding become U+FFFD and the result says so instead of failing."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                      (codecs.BOM_UTF16_BE, "utf-16-be")):  # fmt: skip
        if raw.startswith(bom):
            return _decode_as(raw[len(bom) :], name, "")
    match = _DECLARED.match(raw)
    wanted = match.group(1).decode("ascii") if match else (http_charset or "utf-8")
    codec = _codec(wanted)
    if codec is None:
        return _decode_as(raw, "utf-8", f"unknown encoding {wanted[:40]!r}, read as UTF-8")
    return _decode_as(raw, codec, "")


def _decode_as(raw: bytes, codec: str, note: str) -> Decoded:
    try:
        return Decoded(raw.decode(codec), codec, note)
    except UnicodeDecodeError:
        text = raw.decode(codec, errors="replace")
        return Decoded(text, codec, note or f"bytes that are not valid {codec} were replaced")


def _declare_known_prefixes(text: str) -> str:
    """Add ``xmlns:ter`` (and the other customary ONVIF prefixes) to the root element when the
    reply uses the prefix without declaring it anywhere; the root may have any prefix."""
    missing = [
        f'xmlns:{prefix}="{uri}"'
        for prefix, uri in KNOWN_PREFIXES.items()
        if f"{prefix}:" in text and f"xmlns:{prefix}=" not in text
    ]
    if not missing:
        return text
    root = _ROOT_TAG.search(text)
    if root is None:
        return text
    return text[: root.end()] + " " + " ".join(missing) + text[root.end() :]


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(parent: etree._Element | None, local: str) -> etree._Element | None:
    if parent is None:
        return None
    return next((c for c in parent if _local(c.tag) == local), None)


def find_fault(root: etree._Element) -> Fault | None:
    """The fault in an envelope's body, whatever its prefix and SOAP version."""
    fault = _child(_child(root, "Body"), "Fault")
    if fault is None:
        return None
    codes: list[str] = []
    reason = ""
    for node in fault.iter():
        local = _local(node.tag)
        text = (node.text or "").strip()
        if local in ("Value", "faultcode") and text:
            codes.append(text.rsplit(":", 1)[-1])
        elif local in ("Text", "faultstring") and text and not reason:
            reason = text
    return Fault(tuple(codes), reason)


def _to_soap12(root: etree._Element) -> None:
    """Move a SOAP 1.1 envelope's own elements into the 1.2 namespace the WSDL binding expects
    (the payload is the same in both versions)."""
    for node in root.iter():
        if isinstance(node.tag, str) and etree.QName(node).namespace == SOAP11:
            node.tag = f"{{{SOAP12}}}{_local(node.tag)}"
    etree.cleanup_namespaces(root)


def read_reply(raw: bytes, http_charset: str | None = None) -> Reply:
    """Decode, parse strictly, find a fault and canonicalise; ReplyError when not XML."""
    decoded = decode(raw, http_charset)
    text = _declare_known_prefixes(_DECLARATION.sub("", decoded.text, count=1))
    try:
        root = etree.fromstring(text, parser=_STRICT)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ReplyError(str(exc)[:200]) from exc
    if _local(root.tag) != "Envelope":
        return Reply(raw, None, decoded.repaired, is_envelope=False)
    fault = find_fault(root)
    _to_soap12(root)
    body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return Reply(body, fault, decoded.repaired)


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of an HTTP Content-Type, if any."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None
