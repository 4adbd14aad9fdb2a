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
        Step(good_at_s, GOOD_VERSION, "the next agent version"),
        Step(broken_at_s, BROKEN_VERSION, "broken on purpose: it dies at start"),
    ]


@dataclass
class DemoRollouts:
    """Starts each step's rollout once its time has come and the previous rollout has
    finished (a gateway is in one open rollout at a time)."""

    stack: DemoStack
    steps: list[Step] = field(default_factory=default_steps)
    _service: Rollouts | None = None
    _fleet: Store | None = None

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

    def _store(self) -> Store:
        if self._fleet is None:
            self._fleet = Store(self.stack.db_url)
        return self._fleet

    def get(self, rollout_id: str) -> dict[str, Any]:
        return self.service().store.get(rollout_id)

    def view(self) -> Group:
        """What the dashboard shows: the plan, a line for each finished rollout, and the
        latest rollout's waves and gateways."""
        parts: list[Any] = []
        lines = []
        for i, step in enumerate(self.steps):
            if not step.result:
                after = f" (once {self.steps[i - 1].version} has finished)" if i else ""
                lines.append(f"at {step.at_s:.0f} s{after}: {step.version}, {step.what}")
            elif not step.rollout_id:
                lines.append(f"{step.version}: {step.result}")
        started = [s for s in self.steps if s.rollout_id]
        for step in started[:-1]:
            parts.append(self._summary(step, self.get(step.rollout_id)))
        if started:
            step = started[-1]
            got = self.get(step.rollout_id)
            parts += [self._summary(step, got), self._table(got)]
        if lines:
            parts.append(Text("agent releases to come:\n  " + "\n  ".join(lines)))
        return Group(*parts)

    def _summary(self, step: Step, got: dict[str, Any]) -> Text:
        status = got["status"]
        line = Text.assemble(
            ("agent rollout ", "bold"),
            (got["version"], "bold"),
            f" ({step.what}): ",
            (status, _STATUS_STYLE.get(status, "")),
            f", wave {got['wave']} of {len(got['waves'])}",
        )
        if got.get("reason"):
            line.append(f" — {escape_controls(got['reason'])}")
        if got["finished_at"] is None:
            counts = _counts(got).items()
            line.append(" (" + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts) + ")")
        return line

    def _table(self, got: dict[str, Any]) -> Table:
        table = Table(expand=False)
        for col in ("gateway", "wave", "status", "started", "ended", "what it means"):
            table.add_column(col, overflow="fold")
        offline = {r["id"] for r in self._store().gateway_rows() if r["state"] == "offline"}
        for g in got["gateways"]:
            meaning = _meaning(g, got["version"])
            if g["status"] in _UNDERWAY and g["gateway_id"] in offline:
                meaning = f"restarting into {got['version']} (offline for a few seconds)"
            table.add_row(
                Text(escape_controls(g["gateway_id"])),
                "1 (canary)" if g["wave"] == 1 else str(g["wave"]),
                Text(g["status"].replace("_", " "), style=_STATUS_STYLE.get(g["status"], "")),
                _clock(g.get("started_at")),
                _clock(g.get("finished_at")),
                Text(meaning),
            )
        return table


def _counts(got: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for g in got["gateways"]:
        out[g["status"]] = out.get(g["status"], 0) + 1
    return out


def _clock(ts: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else "—"


_UNDERWAY = {"started", "downloading", "installing", "trial"}
_MEANING = {
    "queued": "waits for the wave before it to commit",
    "offline": "offline when its wave started; starts when it is back",
    "started": "update command sent; waiting for the gateway's first report",
    "installing": "verified; installing into a new slot, then restarting into it (offline "
    "for a few seconds)",
    "trial": "new version on trial: it must reconnect and stay healthy, or its launcher "
    "brings the previous version back",
    "skipped": "never started: the rollout was aborted",
}


def _meaning(g: dict[str, Any], version: str) -> str:
    status, reason = g["status"], escape_controls(g.get("reason") or "")
    if status == "downloading" and g.get("progress") is not None:
        return f"downloading the signed release: {g['progress'] * 100:.0f}%"
    if status == "committed":
        return f"runs {version} for good" + (f" ({reason})" if reason else "")
    if status == "rolled_back":
        return f"its launcher brought the previous version back by itself: {reason}"
    return _MEANING.get(status, reason)
