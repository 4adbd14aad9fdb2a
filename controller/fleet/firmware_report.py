"""Camera firmware compliance across the fleet, from what the agents read over ONVIF.

Each camera's identity comes from its gateway's latest health (``extra.cameras[id].inventory``,
filled once the agent has visited the camera) or else from the birth inventory. A camera the
agent has not read yet is ``unknown``: nothing is guessed. Pure functions over the stored rows
(or the registry's copies), shared by the API, the CLI and the alert rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from firmware_profiles.camera import CameraProfile
from firmware_profiles.compliance import Verdict, check_camera

VERDICTS = tuple(v.value for v in Verdict)


def _plain(value: Any) -> Any:
    """The registry may hold wire models; the store holds their JSON."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def _dict(value: Any) -> dict[str, Any]:
    value = _plain(value)
    return dict(value) if isinstance(value, Mapping) else {}


def camera_identities(inventory: Any, health: Any) -> dict[str, dict[str, Any]]:
    """Camera id -> the identity fields the agent read (health first, then the birth)."""
    live = _dict(_dict(_dict(health).get("extra")).get("cameras"))
    born = _dict(inventory).get("cameras")
    out: dict[str, dict[str, Any]] = {}
    for entry in born if isinstance(born, list) else []:
        cam = _dict(entry)
        if isinstance(cam.get("id"), str):
            out[cam["id"]] = cam
    for cam_id, section in live.items():
        seen = _dict(_dict(section).get("inventory"))
        if seen.get("probed") or cam_id not in out:
            out[str(cam_id)] = seen or {"id": cam_id}
    return out


def upgrading(health: Any, camera: str) -> bool:
    """The agent marks a camera in a planned firmware-upgrade outage with this condition."""
    section = _dict(_dict(_dict(_dict(health).get("extra")).get("cameras")).get(camera))
    conditions = section.get("conditions")
    return isinstance(conditions, list) and "upgrading" in conditions


def camera_rows(
    gateway_id: str,
    site: str,
    inventory: Any,
    health: Any,
    profiles: dict[str, CameraProfile] | None = None,
) -> list[dict[str, Any]]:
    """One report row per camera of one gateway."""
    out = []
    for cam_id, ident in sorted(camera_identities(inventory, health).items()):
        maker = str(ident.get("manufacturer") or "")
        model = str(ident.get("model") or "")
        firmware = str(ident.get("firmware") or "")
        if ident.get("probed"):
            verdict = check_camera(maker, model, firmware, profiles).as_dict()
        else:
            verdict = {
                "verdict": Verdict.UNKNOWN.value,
                "reason": "the agent has not read this camera over ONVIF yet",
                "advisories": [],
                "unverified": [],
                "kev": False,
            }
        out.append(
            {
                "gateway": gateway_id,
                "camera": cam_id,
                "site": site,
                "manufacturer": maker,
                "model": model,
                **verdict,
                "firmware": firmware,
                "upgrading": upgrading(health, cam_id),
            }
        )
    return out


def summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for row in rows:
        counts[str(row.get("verdict"))] = counts.get(str(row.get("verdict")), 0) + 1
    return counts
