"""Layer names: ``fleet``, ``site:NAME`` and ``gateway:ID``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from controller.config_store.errors import BadScope

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KINDS = ("fleet", "site", "gateway")


@dataclass(frozen=True)
class Scope:
    kind: str  # fleet | site | gateway
    name: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "fleet" else f"{self.kind}:{self.name}"


FLEET = Scope("fleet")


def site(name: str) -> Scope:
    return parse(f"site:{name}")


def gateway(name: str) -> Scope:
    return parse(f"gateway:{name}")


def parse(text: str) -> Scope:
    """``fleet``, ``site:NAME`` or ``gateway:ID``; names are 1-64 letters, digits, ``.-_``."""
    if text == "fleet":
        return FLEET
    kind, _, name = text.partition(":")
    if kind not in KINDS[1:] or not _NAME.match(name):
        raise BadScope(
            f"layer {text!r}: expected fleet, site:NAME or gateway:ID "
            "(names: letters, digits, '.', '-', '_', at most 64)"
        )
    return Scope(kind, name)
