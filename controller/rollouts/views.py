"""Rollouts as the API, the CLI and the console show them: a summary per rollout with its
gateway counts, and one rollout in full (waves with what each needs, every gateway).

Waves are numbered from 1 here, for people; the tables count them from 0. In a camera firmware
rollout each entry of ``gateways`` is one camera (its ``camera_id`` set; empty for agents).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from controller.rollouts.errors import RolloutNotFound
from controller.rollouts.policy import RolloutPolicy
from controller.store.schema import rollout_gateways, rollouts


def recent(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first, each with ``counts`` of its gateways per status."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(rollouts).order_by(rollouts.c.created_at.desc()).limit(limit)
        ).mappings()
        out = [_summary(dict(r)) for r in rows]
        for item in out:
            item["counts"] = _counts(conn, item["id"])
    return out


def detail(engine: Engine, rollout_id: str, now: float) -> dict[str, Any]:
    """The summary plus ``in_window`` (at ``now``), ``waves`` and ``gateways``."""
    with engine.connect() as conn:
        query = select(rollouts).where(rollouts.c.id == rollout_id)
        row = conn.execute(query).mappings().first()
        if row is None:
            raise RolloutNotFound(rollout_id)
        out = _summary(dict(row))
        gws = [
            dict(r)
            for r in conn.execute(
                select(rollout_gateways)
                .where(rollout_gateways.c.rollout_id == rollout_id)
                .order_by(
                    rollout_gateways.c.wave,
                    rollout_gateways.c.gateway_id,
                    rollout_gateways.c.camera_id,
                )
            ).mappings()
        ]
    policy = RolloutPolicy.model_validate_json(row["policy"])
    out["in_window"] = policy.in_window(now)
    out["counts"] = _count(g["status"] for g in gws)
    out["waves"] = _waves(gws, out["bounds"], policy)
    out["gateways"] = [
        {**{k: v for k, v in g.items() if k != "rollout_id"}, "wave": g["wave"] + 1} for g in gws
    ]
    return out


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    row["bounds"] = json.loads(row["bounds"])
    row["policy"] = json.loads(row["policy"])
    row["target"] = json.loads(row["target"])
    row["image"] = json.loads(row["image"]) if row.get("image") else None
    row["wave"] = row["wave"] + 1
    row.pop("revision", None)
    return row


def _counts(conn: Connection, rollout_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(rollout_gateways.c.status, func.count())
        .where(rollout_gateways.c.rollout_id == rollout_id)
        .group_by(rollout_gateways.c.status)
    )
    return {r[0]: r[1] for r in rows}


def _count(statuses: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out


def _waves(
    gws: list[dict[str, Any]], bounds: list[int], policy: RolloutPolicy
) -> list[dict[str, Any]]:
    out = []
    for i in range(len(bounds)):
        members = [g for g in gws if g["wave"] == i]
        out.append(
            {
                "wave": i + 1,
                "size": len(members),
                "needed": policy.needed(len(members)),
                "counts": _count(g["status"] for g in members),
            }
        )
    return out
