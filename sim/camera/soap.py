"""SOAP envelopes and faults as ONVIF devices write them.

Replies are built from small string templates: the simulator must be able to write XML that is
subtly wrong on purpose (an undeclared ``ter:`` prefix), which an XML library would not allow.
How the envelope is spelled (prefix, SOAP version, encoding, BOM) follows a :class:`Style`, so
one camera can act out a gSOAP firmware (``SOAP-ENV:``), a SOAP 1.1 one or a Latin-1 one.
"""

from __future__ import annotations

import codecs
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

ENV = "http://www.w3.org/2003/05/soap-envelope"
ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {
    "env": ENV,
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
Encoding = Literal["utf-8", "iso-8859-1", "iso-8859-1-undeclared"]


@dataclass(frozen=True)
class Style:
    """How a firmware spells its replies. ``prefix`` "" puts the envelope in the default
    namespace; "iso-8859-1-undeclared" writes Latin-1 bytes under a declaration-less (so
    UTF-8 by default) document, as some firmwares do."""

    prefix: str = "env"
    version: Literal["1.2", "1.1"] = "1.2"
    encoding: Encoding = "utf-8"
    bom: bool = False

    @property
    def content_type(self) -> str:
        charset = "iso-8859-1" if self.encoding == "iso-8859-1" else "utf-8"
        kind = "application/soap+xml" if self.version == "1.2" else "text/xml"
        return f"{kind}; charset={charset}"

    def tag(self, local: str) -> str:
        return f"{self.prefix}:{local}" if self.prefix else local

    def declarations(self, skip: tuple[str, ...] = ()) -> str:
        env_ns = ENV if self.version == "1.2" else ENV11
        env = f'xmlns:{self.prefix}="{env_ns}"' if self.prefix else f'xmlns="{env_ns}"'
        rest = " ".join(f'xmlns:{p}="{u}"' for p, u in NS.items() if p not in (*skip, "env"))
        return f"{env} {rest}"

    def document(self, body: str, skip: tuple[str, ...] = ()) -> bytes:
        envelope_tag, body_tag = self.tag("Envelope"), self.tag("Body")
        xml = (
            f"<{envelope_tag} {self.declarations(skip)}><{body_tag}>{body}</{body_tag}>"
            f"</{envelope_tag}>"
        )
        if self.encoding == "iso-8859-1-undeclared":
            return xml.encode("latin-1", errors="replace")
        declared = "ISO-8859-1" if self.encoding == "iso-8859-1" else "UTF-8"
        text = f'<?xml version="1.0" encoding="{declared}"?>\n{xml}'
        if self.encoding == "iso-8859-1":
            return text.encode("latin-1", errors="replace")
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode("utf-8")


PLAIN = Style()


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


def envelope(body: str, style: Style = PLAIN) -> bytes:
    """A complete response envelope around ``body`` (prefixes tds, trt, tt, ter declared)."""
    return style.document(body)


def fault(
    code: str, subcode: str, reason: str, declare_ter: bool = True, style: Style = PLAIN
) -> bytes:
    """A SOAP fault; ``code`` is Sender or Receiver, ``subcode`` like ter:NotAuthorized. SOAP 1.1
    has no subcodes: its firmwares put the ONVIF subcode in ``faultcode``."""
    skip = () if declare_ter else ("ter",)
    if style.version == "1.1":
        body = (
            f"<{style.tag('Fault')}><faultcode>{subcode}</faultcode>"
            f"<faultstring>{escape(reason)}</faultstring></{style.tag('Fault')}>"
        )
        return style.document(body, skip)
    t = style.tag
    body = (
        f"<{t('Fault')}><{t('Code')}><{t('Value')}>{t(code)}</{t('Value')}>"
        f"<{t('Subcode')}><{t('Value')}>{subcode}</{t('Value')}></{t('Subcode')}></{t('Code')}>"
        f'<{t("Reason")}><{t("Text")} xml:lang="en">{escape(reason)}</{t("Text")}></{t("Reason")}>'
        f"</{t('Fault')}>"
    )
    return style.document(body, skip)


def el(tag: str, text: object) -> str:
    """``<tag>text</tag>`` with the text escaped."""
    return f"<{tag}>{escape(str(text))}</{tag}>"


def wrap(tag: str, *inner: str, attrs: str = "") -> str:
    """``<tag attrs>inner…</tag>`` around already-built XML."""
    open_tag = f"<{tag} {attrs}>" if attrs else f"<{tag}>"
    return open_tag + "".join(inner) + f"</{tag}>"
