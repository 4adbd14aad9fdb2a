"""A request body sent with ``Transfer-Encoding: chunked``, read strictly and within a cap.

The standard library decodes chunked *responses* (``http.client``) but has no reader for a
request that an ``http.server`` handler receives, so the push consumer reads its chunked Notify
bodies here. Framing (RFC 9112, section 7.1): a line with the chunk's size in hex (extensions
after ``;`` are ignored) ended by CRLF, that many bytes, CRLF; a size of 0 ends the body,
followed by optional trailer field lines and an empty line. Anything else is refused rather
than guessed at, and the cap is checked against a chunk's announced size before its bytes are
read, so an oversized body is refused without reading the rest of it.
"""

from __future__ import annotations

from typing import Protocol

MAX_LINE = 1024  # a size line (extensions included) or one trailer line, CRLF included
MAX_TRAILERS = 8  # trailer field lines after the last chunk; cameras send none
MAX_SIZE_DIGITS = 16  # hex digits of one size (leading zeros allowed)
HEX = frozenset(b"0123456789abcdefABCDEF")
CRLF = b"\r\n"


class Reader(Protocol):
    """What is read from: the request's buffered socket reader (or a BytesIO in a test)."""

    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...


class ChunkError(Exception):
    """The body's chunked framing is malformed; the message says how (for the log)."""


class ChunkedTooLarge(Exception):
    """The chunks announced so far pass the cap (``size``: bytes with the offending chunk)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"chunked body of at least {size} bytes")
        self.size = size


def _line(rfile: Reader, what: str) -> bytes:
    """One CRLF-ended line without its CRLF, at most :data:`MAX_LINE` bytes."""
    line = rfile.readline(MAX_LINE)
    if not line.endswith(CRLF):
        if len(line) >= MAX_LINE:
            raise ChunkError(f"{what} longer than {MAX_LINE} bytes")
        raise ChunkError(f"{what} not ended by CRLF" if line else f"body ended before {what}")
    return line[:-2]


def _size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].rstrip(b" \t")  # optional whitespace before an extension
    if not 0 < len(digits) <= MAX_SIZE_DIGITS or not HEX.issuperset(digits):
        raise ChunkError(f"bad chunk size {digits[: MAX_SIZE_DIGITS + 1]!r}")
    return int(digits, 16)


def read_chunked(rfile: Reader, cap: int) -> bytes:
    """The decoded body read from ``rfile``. Raises :class:`ChunkedTooLarge` as soon as the
    announced sizes pass ``cap`` (the offending chunk unread), :class:`ChunkError` on malformed
    framing, and lets the reader's ``OSError`` (a timeout, a reset) through."""
    body = bytearray()
    while True:
        size = _size(_line(rfile, "chunk size line"))
        if size == 0:
            break
        if len(body) + size > cap:
            raise ChunkedTooLarge(len(body) + size)
        data = rfile.read(size)
        if len(data) < size:
            raise ChunkError(f"body ended inside a chunk ({len(data)} of {size} bytes)")
        body += data
        if rfile.read(2) != CRLF:
            raise ChunkError("chunk data not followed by CRLF")
    for _ in range(MAX_TRAILERS + 1):
        trailer = _line(rfile, "trailer line")
        if not trailer:
            return bytes(body)
        if b":" not in trailer:
            raise ChunkError("trailer line is not a header field")
    raise ChunkError(f"more than {MAX_TRAILERS} trailer lines")
