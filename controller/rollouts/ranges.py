"""HTTP byte ranges (RFC 9110 section 14) for the release files: one range per request, which is
all a resuming download asks for.

- no ``Range`` header, a unit other than ``bytes``, or several ranges: the whole file (a server
  may always ignore Range; several ranges would need multipart answers no gateway wants);
- ``bytes=A-B``, ``bytes=A-``, ``bytes=-N``: that part (``B`` past the end is cut to the end);
- a byte range that is malformed or starts at or after the end: :class:`Unsatisfiable`, which the
  route answers with 416 and ``Content-Range: bytes */SIZE``.
"""

from __future__ import annotations

import re

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class Unsatisfiable(ValueError):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive, or None for the whole file."""
    if header is None:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _SPEC.match(spec)
    if match is None or match.group(1) == match.group(2) == "":
        raise Unsatisfiable(f"malformed range {header!r}")
    first_text, last_text = match.groups()
    if first_text == "":  # the last N bytes
        n = int(last_text)
        if n == 0 or size == 0:
            raise Unsatisfiable("an empty suffix range")
        return max(0, size - n), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last < first:
        raise Unsatisfiable(f"range {header!r} ends before it starts")
    if first >= size:
        raise Unsatisfiable(f"range starts at {first}, the file has {size} bytes")
    return first, min(last, size - 1)


def content_range(first: int, last: int, size: int) -> str:
    return f"bytes {first}-{last}/{size}"
