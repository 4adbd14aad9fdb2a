"""Forgetting a decommissioned gateway: what goes, what stays, and the audit row that says so.

A gateway taken off its pole stays in the fleet table as "offline" forever, and in every
fleet-wide configuration change, unless someone removes it. Forgetting removes what describes
the gateway as a *member* of the fleet:

- its registry row (``gateways``), its site assignment (``gateway_sites``), its tags
  (``gateway_tags``);
- its desired configuration, what it last reported about it, and its own configuration layer
  (``gateway_config``, ``gateway_config_reported``, the ``gateway:<id>`` row of
  ``config_layers``): a layer left behind would make the next fleet-wide change compose and
  deliver a configuration for it again;
- commands still waiting for it (marked expired, never sent).

It keeps what describes the *past*: message history, events and snapshots, alerts and their
journal, configuration history and audit. Those rows answer "what happened at that pole last
month" and age out through retention like any others; the audit row written here (in the same
transaction) records who forgot the gateway, when, and what it was.

A gateway that is online is refused unless forced: it is evidently not decommissioned, and it
would register itself again with its next message anyway. The same is true of a forgotten
gateway that comes back: it is simply a new member.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.engine import Connection

from controller.access import audit
from controller.store.schema import (
    commands,
    config_layers,
    gateway_config,
    gateway_config_reported,
    gateway_sites,
    gateway_tags,
    gateways,
)


class UnknownGateway(LookupError):
    """No such gateway in the registry."""


class GatewayOnline(RuntimeError):
    """The gateway is online: forgetting it needs ``force``."""


@dataclass(frozen=True)
class Forgotten:
    gateway_id: str
    state: str
    site: str
    removed: dict[str, int] = field(default_factory=dict)  # table -> rows removed or expired


def _delete_rows(conn: Connection, gateway_id: str) -> dict[str, int]:
    """Delete the membership rows; how many went from each table."""
    keyed = (
        (gateways, gateways.c.id, gateway_id),
        (gateway_sites, gateway_sites.c.gateway_id, gateway_id),
        (gateway_tags, gateway_tags.c.gateway_id, gateway_id),
        (gateway_config, gateway_config.c.gateway_id, gateway_id),
        (gateway_config_reported, gateway_config_reported.c.gateway_id, gateway_id),
        (config_layers, config_layers.c.scope, f"gateway:{gateway_id}"),
    )
    return {
        table.name: conn.execute(delete(table).where(column == key)).rowcount
        for table, column, key in keyed
    }


def forget_gateway(
    engine: Engine,
    gateway_id: str,
    *,
    who: str,
    source: str,
    force: bool = False,
    now: float | None = None,
) -> Forgotten:
    """Remove one gateway's membership rows and write the audit row, in one transaction.
    Raises :class:`UnknownGateway`, or :class:`GatewayOnline` when it is online and not
    ``force``; nothing changes then."""
    at = time.time() if now is None else now
    with engine.begin() as conn:
        row = conn.execute(
            select(gateways.c.state, gateways.c.last_seen, gateways.c.agent_version).where(
                gateways.c.id == gateway_id
            )
        ).first()
        if row is None:
            raise UnknownGateway(gateway_id)
        if row.state == "online" and not force:
            raise GatewayOnline(gateway_id)
        site = conn.execute(
            select(gateway_sites.c.site).where(gateway_sites.c.gateway_id == gateway_id)
        ).scalar()
        removed = _delete_rows(conn, gateway_id)
        removed["commands (expired)"] = conn.execute(
            update(commands)
            .where(commands.c.gateway_id == gateway_id, commands.c.status.in_(("pending", "sent")))
            .values(status="expired", finished_at=at)
        ).rowcount
        audit.record(
            conn,
            who=who,
            action="gateway.forget",
            target=f"gateway:{gateway_id}",
            detail={
                "state": row.state,
                "forced": force,
                "last_seen": row.last_seen,
                "agent_version": row.agent_version,
                "site": site or "",
                "removed": removed,
            },
            source=source,
            at=at,
        )
    return Forgotten(gateway_id, row.state, site or "", removed)
