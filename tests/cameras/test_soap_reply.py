"""The reply reader on its own, for spellings the simulator does not act out (UTF-16, unknown
encoding names, WS-Security fault codes, generic codes with a telling reason)."""

from __future__ import annotations

import codecs

import pytest

from agent.cameras import soap_reply
from agent.cameras.errors import AuthError, NotSupportedError, ProtocolError
from agent.cameras.onvif_soap import fault_error

ENV12 = "http://www.w3.org/2003/05/soap-envelope"
ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"


def _fault12(prefix: str, subcode: str, reason: str = "", declare_ter: bool = False) -> bytes:
    ter = ' xmlns:ter="http://www.onvif.org/ver10/error"' if declare_ter else ""
    p = f"{prefix}:" if prefix else ""
    decl = f'xmlns:{prefix}="{ENV12}"' if prefix else f'xmlns="{ENV12}"'
    return (
        f"<{p}Envelope {decl}{ter}><{p}Body><{p}Fault><{p}Code><{p}Value>{p}Sender</{p}Value>"
        f"<{p}Subcode><{p}Value>{subcode}</{p}Value></{p}Subcode></{p}Code>"
        f"<{p}Reason><{p}Text>{reason}</{p}Text></{p}Reason></{p}Fault></{p}Body></{p}Envelope>"
    ).encode()


@pytest.mark.parametrize("prefix", ["SOAP-ENV", "env", "s", "", "a.b-c_d"])
@pytest.mark.parametrize("declare_ter", [True, False])
def test_not_authorized_by_local_name_whatever_the_prefix(prefix: str, declare_ter: bool) -> None:
    reply = soap_reply.read_reply(_fault12(prefix, "ter:NotAuthorized", "", declare_ter))
    assert reply.fault is not None
    assert reply.fault.codes[-1] == "NotAuthorized"
    assert reply.fault.kind == "auth"


@pytest.mark.parametrize(
    ("code", "reason", "kind", "error"),
    [
        ("wsse:FailedAuthentication", "", "auth", AuthError),
        ("ter:ActionNotSupported", "", "unsupported", NotSupportedError),
        ("ter:InvalidArgVal", "bad token", "other", ProtocolError),
        ("Sender", "Sender not Authorized", "auth", AuthError),
        ("weird:NotAuthorized", "", "auth", AuthError),
    ],
)
def test_fault_kinds(code: str, reason: str, kind: str, error: type[Exception]) -> None:
    fault = soap_reply.read_reply(_fault12("SOAP-ENV", code, reason)).fault
    assert fault is not None
    assert fault.kind == kind
    assert isinstance(fault_error(fault, "http://cam", []), error)


def test_soap11_fault_and_body_are_read_and_canonicalised() -> None:
    raw = (
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{ENV11}"><SOAP-ENV:Body><SOAP-ENV:Fault>'
        "<faultcode>ter:NotAuthorized</faultcode><faultstring>no</faultstring>"
        "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()
    reply = soap_reply.read_reply(raw)
    assert reply.fault == soap_reply.Fault(("NotAuthorized",), "no")
    assert ENV12.encode() in reply.body
    assert ENV11.encode() not in reply.body


def test_utf16_bom_and_unknown_encoding_name() -> None:
    envelope = f'<e:Envelope xmlns:e="{ENV12}"><e:Body/></e:Envelope>'
    text = f'<?xml version="1.0" encoding="UTF-16"?>{envelope}'
    reply = soap_reply.read_reply(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert reply.fault is None
    assert reply.body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    odd = f'<?xml version="1.0" encoding="x-vendor-7"?>{envelope}'
    assert "unknown encoding" in soap_reply.read_reply(odd.encode()).repaired


def test_declaration_beats_http_charset_and_http_charset_beats_default() -> None:
    body = f"<e:Envelope xmlns:e='{ENV12}'><e:Body><m>Caméra</m></e:Body></e:Envelope>"
    declared = ('<?xml version="1.0" encoding="ISO-8859-1"?>' + body).encode("latin-1")
    assert "Caméra" in soap_reply.read_reply(declared, "utf-8").body.decode()
    plain = body.encode("latin-1")
    assert "Caméra" in soap_reply.read_reply(plain, "iso-8859-1").body.decode()
    repaired = soap_reply.read_reply(plain)
    assert "Cam\ufffdra" in repaired.body.decode()
    assert repaired.repaired


def test_not_xml_and_not_an_envelope() -> None:
    with pytest.raises(soap_reply.ReplyError):
        soap_reply.read_reply(b"<e:Envelope xmlns:e='x'><e:Body>")
    assert not soap_reply.read_reply(b"<html/>").is_envelope
