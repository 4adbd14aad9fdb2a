"""The real launcher with one fault point: entering the rollback (after ``rolling_back`` is
persisted, before ``current`` moves), driven by the test world's ``faults`` file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from agent.update import launcher
from tests.agent_update.fake_agent import _hook

_real_roll_back = launcher.Launcher.roll_back


def roll_back(self: launcher.Launcher, reason: str, detail: str) -> None:
    _hook(Path(os.environ["FAKE_WORLD"]))("rolling_back")
    _real_roll_back(self, reason, detail)


launcher.Launcher.roll_back = roll_back  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(launcher.main())
