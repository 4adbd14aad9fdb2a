"""The demo writes event snapshots where a person can open them, one file per picture."""

from __future__ import annotations

import base64
from pathlib import Path

from kendali_cli.demo import save_snapshot


def test_the_cameras_colour_picture_does_not_overwrite_the_grey_one(tmp_path: Path) -> None:
    snap = {"data_b64": base64.b64encode(b"\xff\xd8jpeg").decode(), "width": 1, "height": 1}
    body = {"type": "motion", "event_id": "a" * 32, "phase": "update", "snapshot": snap}
    improved = save_snapshot({**body, "attributes": {}}, tmp_path)
    colour = save_snapshot({**body, "attributes": {"snapshot_source": "camera"}}, tmp_path)
    assert improved is not None and colour is not None
    assert improved.name == "motion-aaaaaaaa-update.jpg"
    assert colour.name == "motion-aaaaaaaa-update-colour.jpg"
    assert colour.read_bytes() == b"\xff\xd8jpeg"
    assert save_snapshot({"type": "motion", "event_id": "b" * 32, "phase": "end"}, tmp_path) is None
