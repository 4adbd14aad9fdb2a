"""A raw SOAP client for the tests: hand-built WS-Security so each field can be bent."""

from __future__ import annotations

import base64
import hashlib
import os
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import requests

TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PW_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"


def created_now(offset: float = 0.0, zulu: bool = True) -> str:
    stamp = datetime.fromtimestamp(time.time() + offset, UTC).replace(microsecond=0)
    text = stamp.isoformat()
    return text.replace("+00:00", "Z") if zulu else text


def security_header(
    user: str, password: str, created: str | None = None, nonce: bytes | None = None
) -> str:
    created = created or created_now()
    nonce = nonce or os.urandom(16)
    digest = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()
    return (
        f'<s:Header><wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{PW_DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>"
    )


def call(
    url: str, body: str, header: str = "", timeout: float = 5.0, **kwargs: object
) -> requests.Response:
    """POST one SOAP 1.2 request; ``body`` uses prefixes tds, trt, tt."""
    envelope = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="{TDS}" '
        f'xmlns:trt="{TRT}" xmlns:tt="{TT}">{header}<s:Body>{body}</s:Body></s:Envelope>'
    )
    headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
    return requests.post(url, data=envelope.encode(), headers=headers, timeout=timeout, **kwargs)  # type: ignore[arg-type]


def text_of(xml: bytes, local: str) -> list[str]:
    root = ET.fromstring(xml)
    return [(e.text or "") for e in root.iter() if e.tag.rpartition("}")[2] == local]
