"""The one place that knows the agent's side of an update: the ``update`` command's arguments
and how what a gateway reports maps to a rollout's per-gateway status.

Two things tell the controller how a gateway's update goes:

- the ``update`` object of its health (``GatewayHealth.update``, docs/agent-update.md): the
  agent's persisted state machine (``state``), the ``outcome`` once it ended, a stable
  ``reason`` code, the ``rollout`` id the command carried and the bytes downloaded so far;
- the answer to the ``update`` command itself: an ``error`` answer means the agent refused or
  failed the request (a bad signature, a downgrade, another update already running).

Both are read from the database (the gateway's last health and the command's row), so the
worker never needs ingest's objects. The shapes are the wire contract's
(:func:`protocol.commands.check_update_args`, :class:`protocol.messages.UpdateHealth`); an object
that does not validate is no report at all (the per-gateway timeout still ends the gateway).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from controller.rollouts.engine import Report
from protocol.commands import check_update_args
from protocol.messages import UpdateHealth

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
    """The ``update`` command's arguments, checked as the agent will check them."""
    return check_update_args(
        {
            "url": url,
            "version": version,
            "allow_downgrade": int(allow_downgrade),
            "rollout": rollout_id,
        }
    )


def from_health(health: Mapping[str, Any] | None, rollout_id: str, version: str) -> Report | None:
    """The report in a gateway's last health (``GatewayHealth.update``), when it is about this
    rollout: the same rollout id, or (no id) this version as the target."""
    raw = health.get("update") if isinstance(health, Mapping) else None
    if raw is None:
        return None
    try:
        update = UpdateHealth.model_validate(raw)
    except ValidationError:
        return None
    if update.rollout != rollout_id and (update.rollout or update.target != version):
        return None
    status = OUTCOME_STATUS.get(update.outcome) or STATE_STATUS.get(update.state)
    if status is None:
        return None
    reason = update.reason
    if update.detail:
        reason = f"{reason}: {update.detail}" if reason else update.detail
    progress = None
    if update.bytes_total > 0:
        progress = round(min(1.0, update.bytes_done / update.bytes_total), 3)
    return Report(status, reason[:500], progress)


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


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
