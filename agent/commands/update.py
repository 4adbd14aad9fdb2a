"""The ``update`` command: start the agent's self-update to a signed release.

It answers at once, after the new attempt is persisted (``downloading``): an update takes
minutes on a 4G link and outlives the agent that starts it, so its progress and outcome travel in
health (the ``update`` section), which the controller's rollouts follow. A request while another
update is under way, for the version already running, to an agent not started by the
launcher, or that the disk refuses to record (full, read-only: ``reason`` in the result), is
answered ``error`` saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.commands.handler import CommandFailed
from protocol.commands import CommandError, check_update_args

if TYPE_CHECKING:
    from agent.update.worker import UpdateWorker


class UpdateCommand:
    def __init__(self, worker: Callable[[], UpdateWorker | None]) -> None:
        self.worker = worker

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        from agent.update.updater import UpdateRejected, UpdateRequest

        try:
            checked = check_update_args(args)
        except CommandError as exc:
            raise CommandFailed(str(exc)) from None
        worker = self.worker()
        if worker is None:
            raise CommandFailed(
                "this agent was not started by kendali-launcher, so it cannot switch versions "
                "safely; install the launcher unit (docs/agent-update.md)"
            )
        request = UpdateRequest(
            url=checked["url"],
            version=checked["version"],
            rollout=checked.get("rollout", ""),
            allow_downgrade=bool(checked["allow_downgrade"]),
        )
        try:
            record = worker.updater.begin(request)
        except UpdateRejected as exc:  # a disk that refused the record says how (disk_full)
            result = {"reason": exc.reason} if exc.reason else None
            raise CommandFailed(str(exc), result=result) from None
        worker.kick.set()
        return {
            "state": record.state,
            "target": record.target,
            "previous": record.previous,
            "rollout": record.rollout,
        }
