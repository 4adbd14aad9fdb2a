"""Delivering each gateway's desired configuration: retained, on its own subtree, whenever its
effective version changes.

The configuration store (written by `kendali config`, possibly from another process) is the
source of truth; this job compares what it last published with the store's versions once a
second and publishes what changed. Retained, so a gateway that is offline today gets the newest
version when it reconnects, and only the newest: a retained message is replaced, never queued.
After a reconnect everything is published again (idempotent for the agent, which never applies a
version it already runs or an older one), in case the broker lost its retained store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from protocol.desired import DesiredError, encode_desired
from protocol.topics import Topics

log = logging.getLogger(__name__)


class DesiredSource(Protocol):
    def desired_versions(self) -> dict[str, int]:
        """Gateway id -> current effective version (gateways with any configuration)."""
        ...

    def effective(self, gateway_id: str, *, reveal: bool = False) -> tuple[int, dict[str, Any]]:
        """(version, composed configuration); secrets in clear only with ``reveal``."""
        ...


Publish = Callable[[str, bytes], None]  # (topic, payload): retained, QoS 1


class ConfigDelivery:
    def __init__(self, source: DesiredSource, publish: Publish) -> None:
        self.source = source
        self.publish = publish
        self.delivered: dict[str, int] = {}
        self.failures = 0

    def reset(self) -> None:
        """A new broker connection: publish everything again."""
        self.delivered = {}

    def tick(self, _now: float = 0.0) -> list[str]:
        """Publish every gateway whose version changed; returns their ids."""
        sent = []
        for gid, version in self.source.desired_versions().items():
            if self.delivered.get(gid) == version:
                continue
            try:
                current, config = self.source.effective(gid, reveal=True)
                payload = encode_desired(gid, current, config)
            except DesiredError as exc:
                self.failures += 1
                log.error("desired configuration for %s not delivered: %s", gid, exc)
                self.delivered[gid] = version  # do not retry a payload that cannot be sent
                continue
            self.publish(Topics(gid).config_desired, payload)
            self.delivered[gid] = current
            sent.append(gid)
            log.info("desired configuration v%d published for %s", current, gid)
        return sent
