"""The byte form that is signed: JSON with sorted keys, no whitespace, ASCII only.

A signature covers bytes, not meaning, so both sides must produce the very same bytes for the same
content. Signed documents hold only strings, integers, lists, objects and null (no floats, whose
text form varies between languages), which makes this form unique.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """``value`` (plain JSON types) as its canonical bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")
