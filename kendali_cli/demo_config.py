"""The demo's configuration changes, made from the controller as the central team would: the
rainy season raises the Katulampa Siaga levels on gw-01, and the pasar camera on gw-02 gets a
motion zone redrawn over the pavement. Each is one gateway-layer write in the configuration
store (validated, versioned, audited; the camera password encrypted at rest); the controller
delivers it and the agents report what they applied."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from controller.config_store import ConfigStore, ConfigStoreError, load_key
from controller.config_store import scope as scopes
from controller.store.repo import Store
from kendali_cli.config_fleet import agent_validator
from sim.demo import DemoStack

RAINY_SEASON = [  # Siaga III 90, II 160, I 210 cm
    {"name": "siaga_iii", "value": 90, "severity": "info"},
    {"name": "siaga_ii", "value": 160, "severity": "warning"},
    {"name": "siaga_i", "value": 210, "severity": "critical"},
]
PAVEMENT_ZONE = {
    "name": "pavement",
    "polygon": [[0.0, 0.55], [1.0, 0.55], [1.0, 1.0], [0.0, 1.0]],
    "min_area": 0.004,
}


@dataclass
class Change:
    at_s: float
    gateway: str
    reason: str
    build: Any  # Callable[[dict], dict]: the gateway's running sections -> its new layer
    result: str = ""


def _raise_siaga(local: dict[str, Any]) -> dict[str, Any]:
    sensors = copy.deepcopy(local["sensors"])
    sensors["sensors"][0]["rules"]["thresholds"][0]["levels"] = RAINY_SEASON
    return {"sensors": sensors}


def _redraw_zone(local: dict[str, Any]) -> dict[str, Any]:
    cameras = copy.deepcopy(local["cameras"])
    cameras[0]["motion"]["zones"] = [PAVEMENT_ZONE]
    return {"cameras": cameras}


@dataclass
class DemoConfig:
    stack: DemoStack
    changes: list[Change] = field(
        default_factory=lambda: [
            Change(25, "gw-01", "rainy season: Siaga levels raised 10 cm", _raise_siaga),
            Change(35, "gw-02", "motion zone redrawn over the pavement", _redraw_zone),
        ]
    )
    _store: ConfigStore | None = None

    def store(self) -> ConfigStore:
        if self._store is None:
            engine = Store(self.stack.db_url).engine
            self._store = ConfigStore(
                engine, load_key(self.stack.key_file), validator=agent_validator
            )
        return self._store

    def tick(self, running_s: float) -> None:
        """Make each change once its time has come."""
        for change in self.changes:
            if change.result or running_s < change.at_s:
                continue
            index = int(change.gateway.removeprefix("gw-"))
            try:
                layer = change.build(self.stack.agent_config(index))
                done = self.store().set_layer(
                    scopes.gateway(change.gateway),
                    layer,
                    base=0,
                    who="demo",
                    reason=change.reason,
                )
                versions = ", ".join(f"v{c.new_version}" for c in done.changes) or "no change"
                change.result = f"written ({versions}) at {time.strftime('%H:%M:%S')}"
            except (ConfigStoreError, OSError, KeyError) as exc:
                change.result = f"not written: {exc}"

    def lines(self) -> list[str]:
        drift = {d.gateway_id: d for d in self.store().drift()} if self._store else {}
        out = []
        for c in self.changes:
            if not c.result:
                out.append(f"{c.gateway}: at {c.at_s:.0f} s: {c.reason}")
                continue
            d = drift.get(c.gateway)
            state = f"not yet applied ({d.why})" if d else "applied by the gateway"
            out.append(f"{c.gateway}: {c.reason} — {c.result}; {state}")
        return out
