"""Text from outside (gateways, cameras, sensors, exceptions) made safe for a terminal or a table.

A gateway picks its own agent version string and a camera its own model name. Printed raw, an
escape sequence rewrites the operator's terminal, a bidi override reverses what a line appears to
say, a newline forges a second log line, and ``[/bold]`` crashes a rich table. Every such
character is shown as a visible escape (``\\x1b``, ``\\u202e``) instead, and markup is escaped
where rich would interpret it.
"""

from __future__ import annotations

import re

from rich.markup import escape as _escape_markup

ELLIPSIS = "…"
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_LINE_SEPARATORS = "\u2028\u2029"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_LINE_SEPARATORS}]")
_UNSAFE_KEEP_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}{_LINE_SEPARATORS}]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Control characters (C0, DEL, C1 — so every ANSI escape), bidi overrides and Unicode line
    separators as visible ``\\xNN``/``\\uNNNN``; a traceback may keep its newlines."""
    pattern = _UNSAFE_KEEP_NEWLINE if keep_newlines else _UNSAFE
    return pattern.sub(_visible, text)


def for_terminal(value: object) -> str:
    """A value for rich markup: controls escaped, then ``[`` escaped so it is never a tag."""
    return _escape_markup(escape_controls(str(value)))


def safe_text(s: str, limit: int) -> str:
    """Untrusted text to store (rejection details, crash texts): controls escaped and at most
    ``limit`` characters, cut with an ellipsis. Markup is left alone: whoever displays it
    escapes for their medium."""
    out = escape_controls(s)
    if len(out) <= limit:
        return out
    if limit <= 0:
        return ""
    return out[: limit - 1] + ELLIPSIS
