"""Merge rules, masking and diffs: pure functions, no database."""

from __future__ import annotations

from controller.config_store.drift import Desired, Presence, Reported, drift_of
from controller.config_store.merge import compose, deep_merge, diff, keep_secrets, mask


def test_mappings_merge_and_later_layers_win() -> None:
    fleet = {"health": {"interval_s": 15, "mounts": ["/"]}, "sensors": {"telemetry_interval_s": 60}}
    gw = {"health": {"interval_s": 5}}
    assert compose([fleet, {}, gw]) == {
        "health": {"interval_s": 5, "mounts": ["/"]},
        "sensors": {"telemetry_interval_s": 60},
    }


def test_lists_of_items_with_ids_merge_by_id_other_lists_replace() -> None:
    base = {
        "cameras": [{"id": "c1", "host": "a", "port": 80}, {"id": "c2", "host": "b"}],
        "health": {"mounts": ["/", "/var"]},
    }
    over = {
        "cameras": [{"id": "c2", "port": 8080}, {"id": "c3", "host": "c"}],
        "health": {"mounts": ["/data"]},
    }
    out = deep_merge(base, over)
    assert out["cameras"] == [
        {"id": "c1", "host": "a", "port": 80},
        {"id": "c2", "host": "b", "port": 8080},
        {"id": "c3", "host": "c"},
    ]
    assert out["health"]["mounts"] == ["/data"]
    assert base["cameras"][1] == {"id": "c2", "host": "b"}  # inputs untouched


def test_null_removes_a_key() -> None:
    assert deep_merge({"a": 1, "b": 2}, {"a": None}) == {"b": 2}


def test_secrets_are_masked_in_documents_and_diffs() -> None:
    old = {"cameras": [{"id": "c1", "password": "hunter22", "port": 80}]}
    new = {"cameras": [{"id": "c1", "password": "s3cret-new", "port": 81}]}
    assert mask(new) == {"cameras": [{"id": "c1", "password": "***", "port": 81}]}
    changes = diff(old, new)
    assert {"path": "cameras[c1].password", "old": "***", "new": "*** (changed)"} in changes
    assert {"path": "cameras[c1].port", "old": 80, "new": 81} in changes
    assert "hunter22" not in repr(changes) and "s3cret-new" not in repr(changes)
    added = diff({}, new)
    assert "s3cret-new" not in repr(added)


def test_masked_secret_keeps_the_stored_one() -> None:
    old = {"cameras": [{"id": "c1", "password": "hunter22"}]}
    edited = {"cameras": [{"id": "c1", "password": "***", "port": 81}]}
    assert keep_secrets(edited, old) == {
        "cameras": [{"id": "c1", "password": "hunter22", "port": 81}]
    }


def test_drift_reasons() -> None:
    want = Desired("gw-1", 3)
    assert drift_of(want, Reported(3, "applied", "", 1.0), None) is None
    rejected = drift_of(want, Reported(3, "rejected", "cameras.0.port: too big", 1.0), None)
    assert rejected is not None and rejected.why == "cameras.0.port: too big"
    offline = drift_of(want, Reported(2, "applied", "", 1.0), Presence("offline", 0.0))
    assert offline is not None and offline.why.startswith("offline since")
    never = drift_of(want, None, Presence("online", 0.0))
    assert never is not None and never.why == "never reported"
