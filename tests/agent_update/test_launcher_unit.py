"""The launcher stays importable when the agent is broken: standard library only. The systemd
drop-in starts it with arguments it accepts, and lets the agent (its child during a trial)
notify systemd."""

from __future__ import annotations

import shlex
import subprocess
import sys

from agent.update.launcher import parse
from tests.agent_update.helpers import REPO

DROP_IN = REPO / "deploy" / "systemd" / "kendali-agent.service.d" / "launcher.conf"


def test_launcher_imports_no_agent_code_and_no_third_party_package() -> None:
    code = (
        "import sys, agent.update.launcher\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('agent', 'common', 'protocol', 'pydantic', 'cryptography', 'paho', 'packaging'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          check=True, timeout=30)  # fmt: skip
    assert done.stdout.decode().split() == [
        "agent", "agent.update", "agent.update.launcher", "agent.update.slots",
        "agent.update.state",
    ]  # fmt: skip


def test_systemd_drop_in_runs_the_launcher() -> None:
    lines = [x for x in DROP_IN.read_text().splitlines() if x and not x.startswith("#")]
    assert lines[0] == "[Service]"
    settings = [tuple(x.split("=", 1)) for x in lines[1:]]
    assert ("NotifyAccess", "all") in settings
    execs = [value for key, value in settings if key == "ExecStart"]
    assert execs[0] == ""  # clears the unit's own ExecStart
    argv = shlex.split(execs[1])
    assert argv[0] == "/opt/kendali/.venv/bin/kendali-launcher"
    opts = parse(argv[1:])
    assert str(opts.update_dir).startswith("/var/lib/kendali/")  # inside StateDirectory=
    assert opts.agent_args == ["agent", "--config", "/etc/kendali/agent.yaml"]
