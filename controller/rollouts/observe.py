"""The one place that knows the agent's side of an update: the ``update`` command's arguments
and how what a gateway reports maps to a rollout's per-gateway status.

Two things tell the controller how a gateway's update goes:

- the ``update`` object of its health (``GatewayHealth.update``, docs/agent-update.md): the
  agent's persisted state machine (``state``), the ``outcome`` once it ended, a stable
  ``reason`` code, the ``rollout`` id the command carried and the bytes downloaded so far;
- the answer to the ``update`` command itself: an ``error`` answer means the agent refused or
  failed the request (a bad signature, a downgrade, another update already running).

Both are read from the database (the gateway's last health and the command's row), so the
worker never needs ingest's objects. Everything here is tolerant: an unknown state or a
malformed object is no report at all (the per-gateway timeout still ends the gateway).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.rollouts.engine import Report

COMMAND = "update"

# The agent's state machine -> the rollout's per-gateway status.
STATE_STATUS = {
    "downloading": "downloading",
    "verifying": "installing",
    "installing": "installing",
    "switching": "installing",
    "restarting": "installing",
    "trial": "trial",
    "committed": "committed",
    "rolling_back": "trial",  # still on its way to an outcome; rolled_back follows
    "rolled_back": "rolled_back",
    "failed": "failed",
}
OUTCOME_STATUS = {"committed": "committed", "rolled_back": "rolled_back", "failed": "failed"}


def command_args(url: str, version: str, rollout_id: str, allow_downgrade: bool) -> dict[str, Any]:
    """The ``update`` command's arguments (``protocol.commands.check_update_args``)."""
    args: dict[str, Any] = {
        "url": url,
        "version": version,
        "allow_downgrade": int(allow_downgrade),
        "rollout": rollout_id,
    }
    return args


def from_health(health: Mapping[str, Any] | None, rollout_id: str, version: str) -> Report | None:
    """The report in a gateway's last health, when it is about this rollout: the same rollout
    id, or (an agent that lost it) no id and this version as the target."""
    update = health.get("update") if isinstance(health, Mapping) else None
    if not isinstance(update, Mapping):
        return None
    theirs = update.get("rollout") or ""
    if theirs != rollout_id and (theirs or update.get("target") != version):
        return None
    outcome = update.get("outcome") or ""
    status = OUTCOME_STATUS.get(outcome) or STATE_STATUS.get(str(update.get("state")))
    if status is None:
        return None
    reason = _text(update.get("reason"))
    detail = _text(update.get("detail"))
    if detail:
        reason = f"{reason}: {detail}" if reason else detail
    return Report(status, reason[:500], _progress(update))


def from_answer(answer: Mapping[str, Any] | None) -> Report | None:
    """The command's finished row (``controller.commands.CommandRow``): an ``error`` answer is a
    failure with the agent's words; ``ok`` says nothing yet (the outcome comes in health), an
    expired command neither (the timeout decides)."""
    if not answer or answer.get("status") != "failed":
        return None
    result = answer.get("result")
    result = result if isinstance(result, Mapping) else {}
    inner = result.get("result")
    inner = inner if isinstance(inner, Mapping) else {}
    code = _text(inner.get("reason"))
    error = _text(result.get("error")) or "the gateway refused the update command"
    return Report("failed", (f"{code}: {error}" if code else error)[:500])


def combine(health: Report | None, answer: Report | None) -> Report | None:
    """Health is the fuller account; a refused command ends the gateway even when health has
    nothing (yet) about this rollout."""
    if health is not None and (answer is None or health.status in ("committed", "rolled_back")):
        return health
    return answer or health


def _progress(update: Mapping[str, Any]) -> float | None:
    done, total = update.get("bytes_done"), update.get("bytes_total")
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        return round(min(1.0, max(0.0, done / total)), 3)
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
