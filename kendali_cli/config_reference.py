"""The configuration reference (``docs/configuration.md``), generated from the pydantic models.

    python -m kendali_cli.config_reference > docs/configuration.md

The page is printed from the models themselves (type, default, bounds and description of every
field, one table per section), so it cannot describe a field that no longer exists or miss a new
one; ``tests/config_docs`` fails when the committed page differs from what this prints. Only the
introduction (:mod:`kendali_cli.config_intro`) and the few sentences for fields whose model gives
none are written by hand, here.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from agent.config import AgentConfig
from controller.config import ControllerBroker, ControllerConfig
from kendali_cli.config_intro import INTRO

# Sentences for fields whose model has no description (those models belong to other owners;
# a test checks that every field ends up with one sentence, from here or from its model).
EXTRA_DESCRIPTIONS: dict[tuple[type[BaseModel], str], str] = {
    (AgentConfig, "log_level"): "Least severe log level written to the journal.",
    (AgentConfig, "broker"): "The MQTT broker this gateway reports to (bootstrap: keep it local).",
    (AgentConfig, "outbox"): "The disk outbox that keeps every message until the controller "
    "has committed it.",
    (AgentConfig, "health"): "Gateway health reports (CPU, memory, disks, temperature).",
    (ControllerConfig, "log_level"): "Least severe log level written to the journal.",
    (ControllerConfig, "broker"): "The MQTT broker the controller subscribes to.",
    (ControllerConfig, "database"): "Where the controller stores the fleet and its messages.",
    (ControllerConfig, "ingest"): "How incoming messages are batched into transactions.",
    (ControllerConfig, "retention"): "How long message history and dead letters are kept.",
    (ControllerConfig, "presence"): "When a silent gateway is declared offline.",
    (ControllerBroker, "keepalive_s"): "MQTT keepalive; the broker declares the controller "
    "lost after 1.5x.",
}


@dataclass(frozen=True)
class Section:
    """One model at one place in a file: ``cameras[].motion`` is a MotionConfig."""

    file: str  # "agent.yaml" or "controller.yaml"
    path: str  # dotted, "" for the top level; "[]" marks a list item
    model: type[BaseModel]

    @property
    def title(self) -> str:
        return f"{self.file} `{self.path}`" if self.path else f"{self.file} (top level)"

    @property
    def anchor(self) -> str:
        return anchor(self.title)


def anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def sections(file: str, model: type[BaseModel], path: str = "") -> Iterator[Section]:
    """``model`` and every model nested in it, depth first, in field order."""
    yield Section(file, path, model)
    for name, field in model.model_fields.items():
        nested, is_list = _nested_model(field.annotation)
        if nested is not None:
            child = f"{path}.{name}" if path else name
            yield from sections(file, nested, child + ("[]" if is_list else ""))


def _nested_model(tp: Any) -> tuple[type[BaseModel] | None, bool]:
    tp = _strip(tp)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        found = [_nested_model(a) for a in get_args(tp) if a is not type(None)]
        return next(((m, lst) for m, lst in found if m is not None), (None, False))
    if origin in (list, tuple):
        inner, _ = _nested_model(get_args(tp)[0])
        return inner, inner is not None
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return tp, False
    return None, False


# -- types -------------------------------------------------------------------------------------


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _annotated_meta(tp: Any) -> list[Any]:
    meta: list[Any] = []
    while get_origin(tp) is Annotated:
        args = get_args(tp)
        meta.extend(args[1:])
        tp = args[0]
    return meta


SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    SecretStr: "secret string",
}


def type_name(tp: Any, links: dict[type[BaseModel], str]) -> str:
    """How a YAML writer should read the annotation: ``list of integer``, ``one of `a`, `b```."""
    tp = _strip(tp)
    composed = _composed_name(tp, links)
    if composed is not None:
        return composed
    if inspect.isclass(tp) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in tp)
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return f"[{links[tp]}](#{anchor_of(links[tp])})" if tp in links else tp.__name__
    return SCALARS.get(tp, getattr(tp, "__name__", str(tp)))


def _composed_name(tp: Any, links: dict[type[BaseModel], str]) -> str | None:
    """Optionals, choices, lists and tuples; None for anything else."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        names = [type_name(a, links) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in args)
    if origin is list or (origin is tuple and args[-1:] == (Ellipsis,)):
        return "list of " + type_name(args[0], links)
    if origin is tuple:
        return "[" + ", ".join(type_name(a, links) for a in args) + "]"
    return None


def anchor_of(link_text: str) -> str:
    return anchor(link_text.replace("`", ""))


# -- bounds ------------------------------------------------------------------------------------


def _flatten(meta: list[Any]) -> list[Any]:
    out: list[Any] = []
    for m in meta:
        out.extend(_flatten(m.metadata) if isinstance(m, FieldInfo) else [m])
    return out


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:_}".replace("_", ",") if isinstance(value, int) else repr(value)


def _limits(meta: list[Any], tp: Any) -> str:
    """``>= 1, <= 65,535``, ``1 to 64 characters``, ``pattern `...```: one phrase per kind."""
    found: dict[str, Any] = {}
    for m in _flatten(meta):
        for attr in ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern"):
            if getattr(m, attr, None) is not None:
                found[attr] = getattr(m, attr)
    parts = [f"{sign} {_number(found[a])}" for a, sign in _SIGNS if a in found]
    lo, hi = found.get("min_length"), found.get("max_length")
    unit = "characters" if str in (_strip(tp), *get_args(_strip(tp))) else "items"
    if lo is not None and hi is not None:
        parts.append(f"{lo} to {hi} {unit}")
    elif lo == 1:
        parts.append("not empty")
    elif lo is not None:
        parts.append(f"at least {lo} {unit}")
    elif hi is not None:
        parts.append(f"at most {hi} {unit}")
    if "pattern" in found:
        parts.append(f"pattern `{found['pattern']}`")
    return ", ".join(parts)


_SIGNS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _type_limits(tp: Any, label: str = "") -> list[str]:
    """Bounds carried by the annotation itself, down through optionals, lists and tuples:
    ``each item's values >= 0, <= 1`` for a polygon."""
    own = _limits(_annotated_meta(tp), tp)
    parts = [f"{label} {own}".strip()] if own else []
    tp = _strip(tp)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            parts += _type_limits(arg, label)
    elif origin is list or (origin is tuple and get_args(tp)[-1:] == (Ellipsis,)):
        parts += _type_limits(get_args(tp)[0], f"{label}'s items" if label else "each item")
    elif origin is tuple:
        inner = f"{label}'s values" if label else "each value"
        for part in (p for arg in get_args(tp) for p in _type_limits(arg, inner)):
            if part not in parts:
                parts.append(part)
    return [p.replace("items's", "items'") for p in parts]


def bounds(field: FieldInfo) -> str:
    own = _limits(field.metadata, field.annotation)
    return "; ".join(([own] if own else []) + _type_limits(field.annotation))


# -- defaults ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, SecretStr):
        return value.get_secret_value() and "**********"
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    factory = field.default_factory
    value = factory() if factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "its section's defaults"
    return f"`{json.dumps(_plain(value))}`"


def description(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    for base in model.__mro__:
        extra = EXTRA_DESCRIPTIONS.get((base, name))
        if extra:
            return extra
    return field.description or ""


# -- rendering ---------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _docstring(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__") or ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split()).replace("``", "`")


def render_section(section: Section, links: dict[type[BaseModel], str]) -> list[str]:
    lines = [f"### {section.title}", ""]
    doc = _docstring(section.model)
    if doc:
        lines += [doc, ""]
    lines += ["| field | type | default | bounds | description |", "|---|---|---|---|---|"]
    for name, field in section.model.model_fields.items():
        row = [
            f"`{name}`",
            type_name(field.annotation, links),
            default(field),
            bounds(field),
            description(section.model, name, field),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return [*lines, ""]


def render_file(file: str, model: type[BaseModel], heading: str) -> list[str]:
    found = list(sections(file, model))
    # A model used at one place links to that place's table (each model appears once per file).
    links = {s.model: s.title for s in found}
    lines = [f"## {heading}", ""]
    lines += [f"- [{s.title.replace('`', '')}](#{s.anchor})" for s in found]
    lines.append("")
    for s in found:
        lines += render_section(s, links)
    return lines


def render() -> str:
    """The whole page, as committed in ``docs/configuration.md``."""
    lines = [INTRO.strip(), ""]
    lines += render_file("agent.yaml", AgentConfig, "Agent (`agent.yaml`): every field")
    lines += render_file(
        "controller.yaml", ControllerConfig, "Controller (`controller.yaml`): every field"
    )
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
