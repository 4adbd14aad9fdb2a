"""Every example file in deploy/examples/ and every configuration snippet in docs/ loads the way
the agent (or the controller) loads its file at start, device profiles included; together the
examples use every capability.

A snippet is marked by its fence: ```yaml agent (a whole agent.yaml), ```yaml controller,
```yaml motion (a motion file for ``kendali detect``), ```yaml profile (a device profile)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from agent.config import AgentConfig
from agent.motion import MotionConfig
from common import configfile
from controller.config import ControllerConfig
from firmware_profiles.loader import parse_profile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "deploy" / "examples").glob("*.yaml"))
MODELS: dict[str, type[BaseModel]] = {
    "agent": AgentConfig,
    "controller": ControllerConfig,
    "motion": MotionConfig,
}
FENCE = re.compile(r"^```yaml (\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _snippets() -> list[tuple[str, str, str]]:
    """(where, kind, text) for every marked block in docs/*.md."""
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{page.name}:{line}", match.group(1), match.group(2)))
    return found


def _kind(example: Path) -> str:
    return "controller" if example.stem.startswith("controller") else "agent"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_file_loads_as_at_start(example: Path) -> None:
    configfile.load(example, MODELS[_kind(example)])


def test_examples_together_use_every_capability() -> None:
    agents = [configfile.load(p, AgentConfig) for p in EXAMPLES if _kind(p) == "agent"]
    controllers = [configfile.load(p, ControllerConfig) for p in EXAMPLES if _kind(p) != "agent"]
    cameras = [c for a in agents for c in a.cameras]
    zones = [z for c in cameras if c.motion for z in c.motion.zones]
    sensors = [s for a in agents for s in a.sensors.sensors]
    assert all(a.broker.tls and a.broker.tls.cert_file for a in agents)  # mutual TLS everywhere
    assert controllers and all(c.broker.tls for c in controllers)
    assert any(c.onvif_url for c in cameras) and any(c.rtsp_url for c in cameras)
    assert zones and any(z.schedule for z in zones)
    assert any(c.motion and c.motion.masks for c in cameras)
    assert any(s.rules.thresholds for s in sensors) and any(s.rules.rate_of_rise for s in sensors)
    assert any(r.direction == "below" for s in sensors for r in s.rules.thresholds)
    assert any(s.rules.stale_after_s for s in sensors)


def test_docs_mark_their_config_snippets() -> None:
    kinds = {(where.split(":")[0], kind) for where, kind, _ in _snippets()}
    for page, kind in [
        ("sensors.md", "agent"),  # where sensors go (it once had them one level too high)
        ("sensors.md", "profile"),
        ("cameras.md", "agent"),  # where cameras go
        ("motion.md", "agent"),  # where motion goes
        ("motion.md", "motion"),
        ("configuration.md", "agent"),
    ]:
        assert (page, kind) in kinds, (page, kind)


@pytest.mark.parametrize("snippet", _snippets(), ids=lambda s: f"{s[0]}-{s[1]}")
def test_doc_snippet_is_valid(snippet: tuple[str, str, str], tmp_path: Path) -> None:
    where, kind, text = snippet
    if kind == "profile":
        parse_profile(text)
        return
    assert kind in MODELS, f"{where}: unknown snippet kind {kind!r}"
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        configfile.load(path, MODELS[kind])
    except configfile.ConfigError as exc:
        pytest.fail(f"{where}: {exc}")


def test_the_old_sensors_snippet_shape_is_refused(tmp_path: Path) -> None:
    """What docs/sensors.md used to show: the device list straight under ``sensors``."""
    path = tmp_path / "agent.yaml"
    path.write_text(
        yaml.safe_dump(
            {"gateway_id": "gw-01", "sensors": [{"id": "s", "profile": "mcu_kv", "port": "x"}]}
        )
    )
    with pytest.raises(configfile.ConfigError, match="sensors: Input should be a valid"):
        configfile.load(path, AgentConfig)
