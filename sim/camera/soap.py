"""SOAP 1.2 envelopes and faults as ONVIF devices write them.

Replies are built from small string templates: the simulator must be able to write XML that is
subtly wrong on purpose (an undeclared ``ter:`` prefix), which an XML library would not allow.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

ENV = "http://www.w3.org/2003/05/soap-envelope"
NS = {
    "env": ENV,
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"


class SoapParseError(Exception):
    """The request is not a SOAP envelope with a body element."""


def parse_request(data: bytes) -> tuple[ET.Element | None, ET.Element]:
    """(Header element or None, first Body child) of a SOAP 1.1 or 1.2 request."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - loopback simulator; inputs come from our tests
    except ET.ParseError as exc:
        raise SoapParseError(f"not XML: {exc}") from exc
    if not root.tag.endswith("}Envelope"):
        raise SoapParseError("root element is not an Envelope")
    header = next((c for c in root if c.tag.endswith("}Header")), None)
    body = next((c for c in root if c.tag.endswith("}Body")), None)
    if body is None or len(body) == 0:
        raise SoapParseError("no Body element")
    return header, body[0]


def split_tag(tag: str) -> tuple[str, str]:
    """``{ns}local`` → (ns, local)."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def find_text(elem: ET.Element, local: str) -> str | None:
    """Text of the first descendant named ``local`` in any namespace."""
    for child in elem.iter():
        if split_tag(child.tag)[1] == local:
            return (child.text or "").strip()
    return None


def _declarations(skip: tuple[str, ...] = ()) -> str:
    return " ".join(f'xmlns:{p}="{u}"' for p, u in NS.items() if p not in skip)


def envelope(body: str) -> bytes:
    """A complete response envelope around ``body`` (prefixes env, tds, trt, tt, ter declared)."""
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<env:Envelope {_declarations()}><env:Body>{body}</env:Body></env:Envelope>"
    )
    return text.encode("utf-8")


def fault(code: str, subcode: str, reason: str, declare_ter: bool = True) -> bytes:
    """A SOAP 1.2 fault; ``code`` is Sender or Receiver, ``subcode`` like ter:NotAuthorized."""
    skip = () if declare_ter else ("ter",)
    body = (
        f"<env:Fault><env:Code><env:Value>env:{code}</env:Value>"
        f"<env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(reason)}</env:Text></env:Reason>'
        "</env:Fault>"
    )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<env:Envelope {_declarations(skip)}><env:Body>{body}</env:Body></env:Envelope>"
    )
    return text.encode("utf-8")


def el(tag: str, text: object) -> str:
    """``<tag>text</tag>`` with the text escaped."""
    return f"<{tag}>{escape(str(text))}</{tag}>"


def wrap(tag: str, *inner: str, attrs: str = "") -> str:
    """``<tag attrs>inner…</tag>`` around already-built XML."""
    open_tag = f"<{tag} {attrs}>" if attrs else f"<{tag}>"
    return open_tag + "".join(inner) + f"</{tag}>"
