"""Every command against the failures an operator meets: one ``error:`` line on stderr, exit 2
for bad usage or configuration, 1 for a runtime failure, never a traceback. Loopback only:
"unreachable" is a closed port on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from common.mosquitto import free_port
from kendali_cli.main import app
from tests.helpers import KENDALI, write_yaml

ROOT = Path(__file__).resolve().parents[2]
LOG = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \S+ (DEBUG|INFO|WARNING) ")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KENDALI, *args], capture_output=True, text=True, timeout=90, cwd=ROOT)


def _one_error_line(out: subprocess.CompletedProcess[str], code: int) -> str:
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr
    # A daemon (controller) may have logged its start-up before it met the failure.
    lines = [line for line in out.stderr.splitlines() if line.strip() and not LOG.match(line)]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


def _cases(tmp: Path) -> list[tuple[list[str], int, str]]:
    closed = free_port()
    pg_down = f"postgresql+psycopg://k:pw@127.0.0.1:{closed}/kendali"
    ctl = write_yaml(tmp / "ctl.yaml", {"database": {"url": pg_down}, "broker": {"port": closed}})
    return [
        (["fleet", "status", "--db", pg_down], 1, "Connection refused"),
        (["fleet", "status", "--db", f"sqlite:///{tmp / 'none.db'}"], 2, "no controller database"),
        (["fleet", "status", "--db", "postgres://k@127.0.0.1/x"], 2, "postgresql+psycopg://"),
        (["controller", "--config", str(ctl)], 1, "cannot open the controller database"),
        (["cameras", "probe", f"127.0.0.1:{closed}", "--timeout", "2"], 1, "UnreachableError"),
        (["cameras", "probe", "http://[::1"], 2, "not HOST[:PORT]"),
        (["cameras", "discover", "--target", "nonsense"], 2, "HOST:PORT"),
        (["detect", f"rtsp://u:pw@127.0.0.1:{closed}/live"], 1, "Connection refused"),
        (["detect", str(tmp / "missing.mp4")], 2, "cannot open"),
        (["sim", "sensor", "-p", "nosuch"], 2, "no profile named"),
        (["sim", "sensor", "-p", "xm9505", "--link", str(tmp / "no" / "x")], 2, "not a directory"),
        (["sim", "camera", "--personality", "nosuch"], 2, "nosuch"),
        (["bench", "no_such_bench"], 2, "unknown benchmark"),
        (["demo", "--gateways", "0"], 2, "--gateways"),
        (["no-such-command"], 2, "No such command"),
    ]


def test_every_command_fails_in_one_line_with_the_right_code(tmp_path: Path) -> None:
    for args, code, words in _cases(tmp_path):
        line = _one_error_line(_run(*args), code)
        assert words in line, (args, line)
        assert ":pw@" not in line


def _commands() -> list[list[str]]:
    """Every command path in the tree (``[]`` is ``kendali`` itself)."""
    out: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        out.append(path)
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


def test_dash_h_is_help_everywhere() -> None:
    runner = CliRunner()
    for path in _commands():
        result = runner.invoke(app, [*path, "-h"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output, path


def test_a_short_option_means_one_thing_across_commands() -> None:
    meaning: dict[str, set[str]] = {}
    for path in _commands():
        cmd = typer.main.get_command(app)
        for name in path:
            cmd = cmd.commands[name]  # type: ignore[attr-defined]
        for param in cmd.params:
            longs = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in param.opts if len(o) == 2 and o.startswith("-")):
                meaning.setdefault(short, set()).update(longs)
    clashes = {short: longs for short, longs in meaning.items() if len(longs) > 1}
    assert not clashes
    assert meaning["-c"] == {"--config"}
    assert meaning["-p"] == {"--profile"}


@pytest.mark.parametrize("flag", ["--version"])
def test_version(flag: str) -> None:
    out = _run(flag)
    assert out.returncode == 0 and out.stdout.startswith("kendali ")
