"""docs/configuration.md is what the generator prints from the models, and says something about
every field: a model change without regenerating the page fails here."""

from __future__ import annotations

from pathlib import Path

from agent.config import AgentConfig
from controller.config import ControllerConfig
from kendali_cli.config_reference import description, render, sections

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
REGENERATE = "python -m kendali_cli.config_reference > docs/configuration.md"


def test_committed_page_is_what_the_generator_prints() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), f"stale page; run: {REGENERATE}"


def test_every_field_has_a_row_and_a_sentence() -> None:
    page = render()
    for file, model in (("agent.yaml", AgentConfig), ("controller.yaml", ControllerConfig)):
        for section in sections(file, model):
            assert f"### {section.title}\n" in page
            for name, field in section.model.model_fields.items():
                text = description(section.model, name, field)
                assert text.endswith("."), (section.title, name, text)
                assert f"| `{name}` |" in page


def test_every_capability_has_its_section() -> None:
    titles = {s.path for s in sections("agent.yaml", AgentConfig)}
    assert {
        "broker.tls",
        "outbox",
        "health",
        "sensors.sensors[].rules.thresholds[].levels[]",
        "sensors.sensors[].rules.rate_of_rise[]",
        "cameras[].tamper",
        "cameras[].motion.zones[]",
        "cameras[].motion.zones[].schedule[]",
    } <= titles
    controller = {s.path for s in sections("controller.yaml", ControllerConfig)}
    assert {"broker", "broker.tls", "database", "ingest", "retention", "presence"} <= controller


def test_the_page_says_where_things_go_and_how_it_is_made() -> None:
    page = render()
    assert REGENERATE in page
    for words in ("bootstrap", "cameras[].motion", "sensors.sensors", "broker.tls"):
        assert words in page, words


def test_a_row_shows_type_default_bounds() -> None:
    page = render()
    assert "| `port` | integer | `1883` | >= 1, <= 65,535 | Broker port (8883 with TLS). |" in page
    assert "| `gateway_id` | string | required | pattern `^[a-z0-9][a-z0-9_-]{0,62}$` |" in page
    assert "`^(DEBUG\\|INFO\\|WARNING\\|ERROR)$`" in page  # a | inside a table cell is escaped
