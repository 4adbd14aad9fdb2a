"""Composing layers and describing changes: pure functions over JSON documents.

Merge rules (a later layer wins): mappings merge key by key; a list whose items are all mappings
with an ``id`` merges item by item on that id (an override names only the camera it changes);
any other list, and any scalar, replaces. A key set to ``null`` in a later layer removes it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

MASK = "***"
CHANGED_SECRET = "*** (changed)"  # noqa: S105 - the mask, not a password
SECRET_FIELD = "password"  # noqa: S105 - the field name secrets go by

Doc = dict[str, Any]


def _by_id(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(i, dict) and "id" in i for i in value)
    )


def deep_merge(base: Any, over: Any) -> Any:
    """``over`` laid on ``base`` (neither is modified)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = copy.deepcopy(base)
        for key, value in over.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = deep_merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if _by_id(base) and _by_id(over):
        merged = {item["id"]: item for item in copy.deepcopy(base)}
        for item in over:
            merged[item["id"]] = deep_merge(merged.get(item["id"], {}), item)
        return list(merged.values())
    return copy.deepcopy(over)


# Top-level keys of a layer that the controller keeps for itself (the alert rules): never part
# of what a gateway receives, whose configuration model refuses unknown keys.
CONTROLLER_KEYS = ("alerts",)


def compose(layers: Iterable[Doc]) -> Doc:
    """The effective configuration: fleet defaults, then the site, then the gateway."""
    out: Doc = {}
    for layer in layers:
        out = deep_merge(out, layer)
    return out


def for_gateway(doc: Doc) -> Doc:
    """``doc`` without the controller's own keys (what a gateway is sent and validated by)."""
    return {k: v for k, v in doc.items() if k not in CONTROLLER_KEYS}


def controller_part(doc: Doc) -> Doc:
    """Only the controller's own keys of a layer."""
    return {k: v for k, v in doc.items() if k in CONTROLLER_KEYS}


def mask(value: Any) -> Any:
    """A copy with every non-empty ``password`` value replaced by ``***``."""
    if isinstance(value, dict):
        return {
            k: (MASK if k == SECRET_FIELD and v not in (None, "") else mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Changes from ``old`` to ``new`` as ``{path, old, new}`` entries, secrets already masked
    (a changed password reads ``*** (changed)``), so a diff may be stored and printed as is."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key == SECRET_FIELD and old.get(key) != new.get(key):
                out.append({"path": sub, "old": _secret(old, key), "new": _new_secret(new, key)})
            elif key not in old or key not in new or old[key] != new[key]:
                out.extend(diff(old.get(key), new.get(key), sub))
        return out
    if _by_id(old) and _by_id(new):
        olds, news = {i["id"]: i for i in old}, {i["id"]: i for i in new}
        out = []
        for key in list(olds) + [k for k in news if k not in olds]:
            out.extend(diff(olds.get(key), news.get(key), f"{path}[{key}]"))
        return out
    if old == new:
        return []
    return [{"path": path, "old": mask(old), "new": mask(new)}]


def _secret(doc: Doc, key: str) -> str | None:
    return MASK if doc.get(key) not in (None, "") else doc.get(key)


def _new_secret(doc: Doc, key: str) -> str | None:
    return CHANGED_SECRET if doc.get(key) not in (None, "") else doc.get(key)


def keep_secrets(new: Any, old: Any, path: str = "") -> Any:
    """``new`` with each ``password: "***"`` (as ``show`` printed it) replaced by the secret
    ``old`` holds at the same place: an edited copy of ``show`` keeps the secrets it did not
    change. Raises ``KeyError`` naming the path when there is no secret to keep."""
    if isinstance(new, dict):
        olds = old if isinstance(old, dict) else {}
        out = {}
        for key, value in new.items():
            sub = f"{path}.{key}" if path else str(key)
            if key == SECRET_FIELD and value == MASK:
                if olds.get(key) in (None, "", MASK):
                    raise KeyError(sub)
                out[key] = olds[key]
            else:
                out[key] = keep_secrets(value, olds.get(key), sub)
        return out
    if _by_id(new):
        olds = {i["id"]: i for i in old} if _by_id(old) else {}
        return [keep_secrets(i, olds.get(i["id"]), f"{path}[{i['id']}]") for i in new]
    if isinstance(new, list):
        return [keep_secrets(v, None, f"{path}[{n}]") for n, v in enumerate(new)]
    return new
