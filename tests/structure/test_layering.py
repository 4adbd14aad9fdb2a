"""The package layering and the one base model hold: checked by import-linter and by reading
the source, so a shortcut import or a second base fails here rather than in review."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "agent",
    "benchmarks",
    "common",
    "controller",
    "firmware_profiles",
    "kendali_cli",
    "protocol",
    "provisioning",
    "sensorcodec",
    "sim",
    "strictmodel",
)


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "BROKEN" not in run.stdout and " 0 broken" in run.stdout


def _bases(tree: ast.AST) -> list[tuple[str, str]]:
    """(class name, base name) for every class statement."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                out.append((node.name, name))
    return out


def _calls(text: str, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == name
    ]


def test_one_base_model() -> None:
    """Only strictmodel subclasses pydantic's BaseModel; nobody else sets ``extra``."""
    direct, own_extra = [], []
    for path in _sources():
        text = path.read_text()
        rel = path.relative_to(ROOT).as_posix()
        direct += [f"{rel}:{cls}" for cls, base in _bases(ast.parse(text)) if base == "BaseModel"]
        if any(kw.arg == "extra" for call in _calls(text, "ConfigDict") for kw in call.keywords):
            own_extra.append(rel)
    assert direct == ["strictmodel/__init__.py:StrictModel"]
    assert own_extra == ["strictmodel/__init__.py"]


def test_simulator_and_agent_share_one_serial_codec() -> None:
    import agent.sensors.drivers.frame as agent_frames
    import sim.sensor.encode as sim_encode
    from sensorcodec import frames, modbus_rtu
    from sim.sensor import responders

    assert sim_encode.checksum is frames.checksum
    assert agent_frames.FrameParser is frames.FrameParser
    assert responders.rtu is modbus_rtu
    assert not (ROOT / "agent" / "sensors" / "modbus_rtu.py").exists()
