"""Camera firmware version strings: parsed by a profile's own pattern and compared conservatively.

Vendors write versions their own way (``V5.5.0 build 170725``, ``V2.800.0000018.0.R, Build Date:
2021-07-07``, ``1.3.4 Build 230424 Rel.76394n(4555)``). A profile says how its model's strings
look (a regular expression with a ``version`` and an optional ``build`` group) and what orders
them (``order_by``). Anything that does not match, or two versions whose order the rule cannot
decide, compares as *unknown* (``None``): a guess here could call a vulnerable camera compliant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# Dotted digits, then optionally a build written as a date (2021-07-07), YYMMDD or YYYYMMDD.
DEFAULT_PATTERN = (
    r"^[Vv]?(?P<version>\d+(?:\.\d+)*)"
    r"(?:,?\s*[Bb]uild(?:\s*[Dd]ate:)?\s*(?P<build>\d{4}-\d{2}-\d{2}|\d{8}|\d{6}))?$"
)
MAX_TEXT = 128


class OrderBy(StrEnum):
    """What decides which of two versions is newer."""

    VERSION = "version"  # the dotted numbers; the build is ignored
    BUILD = "build"  # the build date alone (vendors whose numbers carry OEM codes: Dahua)
    VERSION_BUILD = "version_build"  # numbers first; equal numbers are ordered by build


@dataclass(frozen=True)
class FirmwareVersion:
    raw: str
    numbers: tuple[int, ...]
    build: int | None  # YYYYMMDD, or None when the string has no build


class VersionError(ValueError):
    """A version string the profile's pattern does not describe."""


def build_number(text: str) -> int:
    """``2021-07-07``, ``20210707`` or ``210707`` (YYMMDD, 20xx) as 20210707."""
    digits = text.replace("-", "")
    if len(digits) == 6:
        digits = "20" + digits
    value = int(digits)
    month, day = value // 100 % 100, value % 100
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise VersionError(f"build {text!r} is not a date")
    return value


def parse_version(text: str, pattern: str = DEFAULT_PATTERN) -> FirmwareVersion:
    """Parse ``text`` with ``pattern`` (must match all of it); raises VersionError."""
    cleaned = " ".join(str(text).split())
    if not cleaned or len(cleaned) > MAX_TEXT:
        raise VersionError("empty or overlong firmware string")
    found = re.fullmatch(pattern, cleaned)
    if found is None:
        raise VersionError(f"{cleaned!r} does not match the profile's version format")
    groups = found.groupdict()
    try:
        numbers = tuple(int(part) for part in (groups.get("version") or "").split("."))
    except ValueError:
        raise VersionError(f"{cleaned!r}: the version part is not dotted numbers") from None
    build = groups.get("build")
    return FirmwareVersion(cleaned, numbers, build_number(build) if build else None)


def _cmp(a: tuple[int, ...] | int, b: tuple[int, ...] | int) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


def _numbers(a: FirmwareVersion, b: FirmwareVersion) -> int:
    width = max(len(a.numbers), len(b.numbers))
    pad_a = a.numbers + (0,) * (width - len(a.numbers))
    pad_b = b.numbers + (0,) * (width - len(b.numbers))
    return _cmp(pad_a, pad_b)


def compare(a: FirmwareVersion, b: FirmwareVersion, order_by: OrderBy) -> int | None:  # noqa: PLR0911 - a table of cases
    """-1, 0 or 1 as ``a`` is older, equal or newer than ``b``; None when the rule cannot tell
    (a build is needed and one side has none)."""
    if order_by is OrderBy.VERSION:
        return _numbers(a, b)
    if order_by is OrderBy.BUILD:
        if a.build is None or b.build is None:
            return None
        return _cmp(a.build, b.build)
    by_numbers = _numbers(a, b)
    if by_numbers:
        return by_numbers
    if a.build is None and b.build is None:
        return 0
    if a.build is None or b.build is None:
        return None
    return _cmp(a.build, b.build)
