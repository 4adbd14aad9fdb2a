"""The demo's agent releases: at about 45 s the central team rolls the next agent version out
to every gateway in waves (one canary, then the rest); at about 90 s it rolls out a release that
is broken (it dies at start). The canary's launcher brings the previous version back by itself,
the rollout reaches its failure threshold and aborts, and the other gateways never get it.

Each rollout is created the way ``kendali rollout create`` creates it (the same checks, written
to the controller's database); the controller's rollout worker does the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from common import configfile
from common.text import escape_controls
from controller.config import ControllerConfig
from controller.rollouts.manager import NewRollout, RolloutRefused, Rollouts
from controller.rollouts.store import RolloutStore
from controller.store.repo import Store
from sim.demo import BROKEN_VERSION, GOOD_VERSION, DemoStack

# Waves: the canary alone, then everyone else; one failure aborts.
DEMO_POLICY: dict[str, Any] = {
    "waves": [1, "100%"],
    "success_threshold": 100,
    "failure_threshold": 1,
    "gateway_timeout_s": 300,
}
_STATUS_STYLE = {
    "committed": "green",
    "rolled_back": "bold red",
    "failed": "bold red",
    "timed_out": "bold red",
    "skipped": "yellow",
    "aborted": "bold red",
    "completed": "green",
    "running": "cyan",
}


@dataclass
class Step:
    at_s: float
    version: str
    what: str
    rollout_id: str = ""
    result: str = ""


def default_steps(good_at_s: float = 45.0, broken_at_s: float = 90.0) -> list[Step]:
    return [
        Step(good_at_s, GOOD_VERSION, "the next agent version, canary first"),
        Step(broken_at_s, BROKEN_VERSION, "a broken agent version (it dies at start)"),
    ]


@dataclass
class DemoRollouts:
    """Starts each step's rollout once its time has come and the previous rollout has
    finished (a gateway is in one open rollout at a time)."""

    stack: DemoStack
    steps: list[Step] = field(default_factory=default_steps)
    _service: Rollouts | None = None

    def service(self) -> Rollouts:
        if self._service is None:
            cfg = configfile.load(self.stack.workdir / "controller.yaml", ControllerConfig)
            store = RolloutStore(Store(self.stack.db_url).engine)
            self._service = Rollouts(store, cfg.rollouts, cfg.releases)
        return self._service

    def gateways(self) -> list[str]:
        return [f"gw-{i:02d}" for i in range(1, self.stack.gateways + 1)]

    def tick(self, running_s: float) -> None:
        for i, step in enumerate(self.steps):
            if step.result:
                continue
            if running_s < step.at_s or not self._finished(self.steps[:i]):
                return
            request = NewRollout(version=step.version, gateways=self.gateways(), policy=DEMO_POLICY)
            try:
                step.rollout_id = self.service().create(request, "demo", "demo")
                step.result = f"created at {time.strftime('%H:%M:%S')}"
            except RolloutRefused as exc:
                step.result = f"not created: {exc}"
            return

    def _finished(self, steps: list[Step]) -> bool:
        for step in steps:
            if step.rollout_id and self.get(step.rollout_id)["finished_at"] is None:
                return False
        return True

    def get(self, rollout_id: str) -> dict[str, Any]:
        return self.service().store.get(rollout_id)

    def view(self) -> Group:
        """What the dashboard shows: the plan, then each rollout's state and gateways."""
        parts: list[Any] = []
        lines = []
        for step in self.steps:
            if not step.result:
                lines.append(f"at {step.at_s:.0f} s: roll out {step.version}, {step.what}")
            elif not step.rollout_id:
                lines.append(f"{step.version}: {step.result}")
        if lines:
            parts.append(Text("agent releases planned:\n  " + "\n  ".join(lines)))
        for step in self.steps:
            if step.rollout_id:
                parts.append(self._table(step, self.get(step.rollout_id)))
        return Group(*parts)

    def _table(self, step: Step, got: dict[str, Any]) -> Table:
        status = got["status"]
        title = Text.assemble(
            f"Rollout {got['version']} ({step.what}) — ",
            (status, _STATUS_STYLE.get(status, "")),
            f", wave {got['wave']} of {len(got['waves'])}",
        )
        if got.get("reason"):
            title.append(f": {escape_controls(got['reason'])}")
        table = Table(title=title, expand=False)
        for col in ("gateway", "wave", "status", "since", "detail"):
            table.add_column(col, overflow="fold")
        now = time.time()
        for g in got["gateways"]:
            since = g.get("finished_at") or g.get("started_at")
            progress = g.get("progress")
            detail = escape_controls(g.get("reason") or "")
            if progress is not None and g["status"] == "downloading":
                detail = f"{progress * 100:.0f}% downloaded"
            table.add_row(
                Text(escape_controls(g["gateway_id"])),
                "canary" if g["wave"] == 1 else str(g["wave"]),
                Text(g["status"].replace("_", " "), style=_STATUS_STYLE.get(g["status"], "")),
                f"{now - since:.0f} s ago" if since else "—",
                Text(detail),
            )
        return table
