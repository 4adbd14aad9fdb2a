"""Named retry policies for serial work, defined once and copied with a caller's sleep/stop.

REQUEST_RETRY re-sends one request: sensors that sleep drop the first request after idling,
and a single noisy frame should not cost a whole poll. SERIAL_RETRY reopens a port with
jittered backoff until the caller stops it; it is the only place that reconnects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
    wait_fixed,
)

from agent.sensors.errors import ChecksumError, ParseError, PortError, SensorTimeout

log = logging.getLogger(__name__)

REQUEST_RETRY = Retrying(
    stop=stop_after_attempt(2),
    wait=wait_fixed(0.02),
    retry=retry_if_exception_type((SensorTimeout, ChecksumError, ParseError)),
    before_sleep=before_sleep_log(log, logging.DEBUG),
    reraise=True,
)

SERIAL_RETRY = Retrying(
    wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.2),
    retry=retry_if_exception_type(PortError),
    before_sleep=before_sleep_log(log, logging.INFO),
    reraise=True,
)


def request_retry(attempts: int, sleep: Callable[[float], None]) -> Retrying:
    return REQUEST_RETRY.copy(stop=stop_after_attempt(max(1, attempts)), sleep=sleep)


def reconnect_retry(stopping: threading.Event, max_wait: float = 5.0) -> Retrying:
    """Reopen until it works or ``stopping`` is set; the backoff sleep wakes on stop."""

    def stop(_state: RetryCallState) -> bool:
        return stopping.is_set()

    return SERIAL_RETRY.copy(
        stop=stop,
        sleep=stopping.wait,
        wait=wait_exponential_jitter(multiplier=0.2, max=max_wait, jitter=0.2),
    )
