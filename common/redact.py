"""One redaction path for every text that leaves a process: logs, health, errors, CLI output.

Pattern matching alone cannot find a password: ``rtsp://admin:a/b@c@10.0.0.5/`` hides the
password ``a/b@c`` from any URL parser, and a library error may echo a password with no URL
around it. So the configuration loaders register the actual secrets here (every ``SecretStr``,
camera, broker and database passwords) and :func:`redact` replaces them, in the forms they take
on the way out (percent-encoded, ``repr``- or JSON-quoted), wherever they appear. On top of that
the user-info of any URL is dropped and credential-like query parameters are masked, which also
covers secrets nobody registered.

Secrets shorter than :data:`MIN_FREE_TEXT_LEN` are masked only where they sit in a URL's
user-info: replacing every ``ab`` in a log line would destroy the text and protects nothing.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_FREE_TEXT_LEN = 4
"""Longer than :data:`MASK`, so each replacement shortens the text and repeating stops."""

_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}://)(\S+)")
_USERINFO = re.compile(r"^\S*@")  # greedy: up to the last ``@``, passwords may contain ``@``
_SECRET_PARAMS = re.compile(
    r"(?i)([?&;](?:password|passwd|pwd|pass|user|username|usr|auth|token|key|secret)=)[^&;#\s]*"
)
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _forms(secret: str) -> set[str]:
    """The spellings a secret takes when code quotes or encodes it on the way out."""
    encoded = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    encoded |= {_PERCENT.sub(lambda m: m.group(0).lower(), e) for e in encoded}
    quoted = {repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    quoted.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    return {secret} | encoded | quoted


class Redactor:
    """A set of known secrets and the compiled patterns that mask them. The process has one
    (:data:`REGISTRY`); tests build their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._free: re.Pattern[str] | None = None
        self._userinfo: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        if not value or value in self._secrets:
            return
        with self._lock:
            self._secrets.add(value)
            self._compile()

    def _compile(self) -> None:
        forms = {f for s in self._secrets for f in _forms(s)}
        longest_first = sorted(forms, key=len, reverse=True)
        free = [f for f in longest_first if len(f) >= MIN_FREE_TEXT_LEN]
        self._free = re.compile("|".join(map(re.escape, free))) if free else None
        alternatives = "|".join(map(re.escape, longest_first))
        self._userinfo = re.compile(
            rf"(?i)\b([a-z][a-z0-9+.-]{{0,31}}://)[^\s@/]*:(?:{alternatives})@"
        )

    def redact(self, text: str) -> str:
        """``text`` with every registered secret masked and every URL's user-info dropped."""
        free, userinfo = self._free, self._userinfo
        for _ in range(8):  # each round only shortens the text; a few rounds settle any input
            before = text
            if userinfo is not None:
                text = userinfo.sub(rf"\1{MASK}@", text)
            text = _URL.sub(_redact_url_match, text)
            if free is not None:
                text = free.sub(MASK, text)
            if text == before:
                break
        return text


def _redact_url_match(match: re.Match[str]) -> str:
    return match.group(1) + _redact_rest(match.group(2))


def _redact_rest(rest: str) -> str:
    if "@" in rest:
        rest = _USERINFO.sub(f"{MASK}@", rest, count=1)
    return _SECRET_PARAMS.sub(rf"\1{MASK}", rest)


REGISTRY = Redactor()


def register_secret(value: str) -> None:
    """Remember ``value`` as a secret for the rest of the process: every later :func:`redact`
    masks it. Called by the configuration loaders; call it for any credential you are handed."""
    REGISTRY.register(value)


def redact(text: str) -> str:
    """Text safe to log, report or print: known secrets masked, URL user-info dropped."""
    return REGISTRY.redact(text)


def redact_url(url: str) -> str:
    """One URL made safe to show (the same rules as :func:`redact`)."""
    return REGISTRY.redact(url)
