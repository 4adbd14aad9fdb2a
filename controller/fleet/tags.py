"""Gateway tags: free-form labels an admin puts on gateways (``north``, ``pilot``, ``solar``).

A gateway has any number of tags; each follows the id rule (lower-case letters, digits, ``_``
and ``-``, at most 63 characters). They are stored in ``gateway_tags`` and written only as a
whole set per gateway, with one audit row (``gateway.tags``) in the same transaction. A
rollout can target a tag: the gateways carrying it when the rollout is created.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from sqlalchemy import Engine, delete, select
from sqlalchemy.engine import Connection

from controller.access import audit
from controller.fleet.forget import UnknownGateway
from controller.store.schema import gateway_sites, gateway_tags, gateways

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_TAGS = 32  # per gateway

__all__ = [
    "MAX_TAGS",
    "TAG_RE",
    "TagError",
    "UnknownGateway",
    "check",
    "set_tags",
    "tag_map",
    "write_tags",
]


class TagError(ValueError):
    """Tags that cannot be set (bad name, too many)."""


def check(tags: Iterable[str]) -> list[str]:
    """The tags sorted and without repeats; raises :class:`TagError` naming the bad ones."""
    wanted = sorted(set(tags))
    bad = [t for t in wanted if not TAG_RE.match(t)]
    if bad:
        raise TagError(
            f"not tags: {', '.join(repr(b) for b in bad[:5])} (lower-case letters, digits, "
            "'_' and '-', starting with a letter or digit, at most 63 characters)"
        )
    if len(wanted) > MAX_TAGS:
        raise TagError(f"{len(wanted)} tags: a gateway carries at most {MAX_TAGS}")
    return wanted


def tag_map(conn: Connection, gateway_id: str | None = None) -> dict[str, list[str]]:
    """Gateway id -> its tags, sorted (gateways without tags are absent)."""
    query = select(gateway_tags.c.gateway_id, gateway_tags.c.tag).order_by(gateway_tags.c.tag)
    if gateway_id is not None:
        query = query.where(gateway_tags.c.gateway_id == gateway_id)
    found: dict[str, list[str]] = {}
    for gid, tag in conn.execute(query).all():
        found.setdefault(str(gid), []).append(str(tag))
    return found


def tagged(conn: Connection, tag: str) -> list[str]:
    """The ids of the gateways carrying ``tag``, sorted."""
    rows = conn.execute(select(gateway_tags.c.gateway_id).where(gateway_tags.c.tag == tag))
    return sorted(str(r.gateway_id) for r in rows)


def set_tags(
    engine: Engine,
    gateway_id: str,
    tags: Iterable[str],
    *,
    who: str,
    source: str,
    now: float | None = None,
) -> tuple[list[str], list[str]]:
    """Replace the gateway's tags; (before, after). The gateway must be known (registered or
    given a site). Raises :class:`TagError` or :class:`UnknownGateway`; nothing changes then."""
    after = check(tags)
    with engine.begin() as conn:
        known = conn.execute(select(gateways.c.id).where(gateways.c.id == gateway_id)).first()
        known = (
            known
            or conn.execute(
                select(gateway_sites.c.gateway_id).where(gateway_sites.c.gateway_id == gateway_id)
            ).first()
        )
        if known is None:
            raise UnknownGateway(gateway_id)
        before = write_tags(conn, gateway_id, after, who=who, source=source, now=now)
    return before, after


def write_tags(
    conn: Connection,
    gateway_id: str,
    tags: Iterable[str],
    *,
    who: str,
    source: str,
    now: float | None = None,
    detail: dict[str, object] | None = None,
) -> list[str]:
    """Replace the gateway's tags inside the caller's transaction (no registry check: the
    caller knows the id, as enrollment does); one ``gateway.tags`` audit row when the set
    changes, ``detail`` added to it. Returns the tags before. Raises :class:`TagError`."""
    after = check(tags)
    before = tag_map(conn, gateway_id).get(gateway_id, [])
    if before != after:
        conn.execute(delete(gateway_tags).where(gateway_tags.c.gateway_id == gateway_id))
        if after:
            conn.execute(
                gateway_tags.insert(), [{"gateway_id": gateway_id, "tag": t} for t in after]
            )
        audit.record(
            conn,
            who=who,
            action="gateway.tags",
            target=f"gateway:{gateway_id}",
            detail={**(detail or {}), "before": before, "after": after},
            source=source,
            at=time.time() if now is None else now,
        )
    return before
