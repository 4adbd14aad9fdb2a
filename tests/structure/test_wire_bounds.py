"""Every wire body is closed and bounded: integers, strings, lists and maps all have a limit, and
nothing is free-form except where the codec bounds it (event attributes)."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.messages import BODY_MODELS

# Free-form by design; the codec bounds their size, depth and keys before validation.
FREE_FORM = {"Event.attributes", "CommandResponse.result"}


def _unbounded(schema: dict[str, Any], defs: dict[str, Any], where: str) -> list[str]:
    """Paths in a JSON schema where a string, array or object has no bound."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _unbounded(defs[name], defs, name)
    found: list[str] = []
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for sub in schema.get(key, []):
            found += _unbounded(sub, defs, where)
    kind = schema.get("type")
    if kind == "integer" and not ({"maximum", "exclusiveMaximum", "enum", "const"} & schema.keys()):
        found.append(where)  # a 64-bit column or a counter must not overflow
    if kind == "string" and not ({"maxLength", "pattern", "enum", "const"} & schema.keys()):
        found.append(where)
    if kind == "array":
        if "maxItems" not in schema:
            found.append(where)
        if isinstance(schema.get("items"), dict):
            found += _unbounded(schema["items"], defs, f"{where}[]")
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            found += _unbounded(sub, defs, f"{where}.{name}")
        extra = schema.get("additionalProperties")
        if extra not in (None, False) and where not in FREE_FORM:
            if "maxProperties" not in schema or extra is True or extra == {}:
                found.append(f"{where}{{}}")
            elif isinstance(extra, dict):
                found += _unbounded(extra, defs, f"{where}{{}}")
            names = schema.get("propertyNames", {})
            if not ({"maxLength", "pattern"} & names.keys()):
                found.append(f"{where}{{keys}}")
    return found


@pytest.mark.parametrize("kind", sorted(BODY_MODELS))
def test_every_field_is_bounded(kind: str) -> None:
    model = BODY_MODELS[kind]
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    found = []
    for name in defs:
        found += _unbounded(defs[name], defs, name)
    found += _unbounded(schema, defs, model.__name__)
    assert sorted(set(found)) == []
