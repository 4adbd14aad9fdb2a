"""Configuration from the controller: the desired configuration arriving on the gateway's own
``config/desired`` topic is decoded, applied (:mod:`agent.config.apply`) and answered with a
``config_report`` through the outbox, so the answer survives a broken link like any message.

Runs on the inbound worker, never on the link's callback: applying may stop a camera.
"""

from __future__ import annotations

import logging

from agent.config.apply import ApplyReport, ConfigApplier
from agent.link.outbox import OutboxError
from agent.link.publisher import OutboxPublisher, Priority
from common.redact import redact
from protocol.desired import DesiredError, decode_desired
from protocol.messages import ConfigReport, MessageKind

log = logging.getLogger(__name__)


class RemoteConfig:
    def __init__(
        self,
        gateway_id: str,
        applier: ConfigApplier,
        publisher: OutboxPublisher,
    ) -> None:
        self.gateway_id = gateway_id
        self.applier = applier
        self.publisher = publisher
        self.rejected_messages = 0
        self.last_report: ConfigReport | None = None  # for the ``config-reported`` command

    def on_desired(self, payload: bytes) -> None:
        try:
            desired = decode_desired(self.gateway_id, payload)
        except DesiredError as exc:
            self.rejected_messages += 1
            log.error("desired configuration ignored: %s", redact(str(exc)))
            return
        report = self.applier.apply(desired.version, desired.config)
        log.info(
            "desired configuration v%d %s%s",
            report.version,
            report.status,
            f": {report.reason}" if report.reason else "",
        )
        self.send(report)

    def send_pending(self) -> None:
        """Reports the controller has not heard (an apply interrupted by a crash)."""
        for report in self.applier.pending_reports():
            if self.send(report):
                self.applier.reported(report.version)

    def send(self, report: ApplyReport) -> bool:
        body = ConfigReport(
            version=report.version,
            status=report.status,
            reason=redact(report.reason)[:2000],
            running_version=self.applier.version,
            changed=report.changed[:512],
        )
        self.last_report = body
        try:
            self.publisher.publish(MessageKind.CONFIG_REPORT, body, priority=Priority.EVENT)
        except OutboxError:
            log.exception("configuration report v%d not stored", report.version)
            return False
        return True
