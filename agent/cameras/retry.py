"""The named retry policies for cameras. Authentication, protocol and not-supported errors are
never retried: only timeouts, unreachable hosts and stream failures are (see ``RETRYABLE``).

Policies are templates: a caller binds its own stop event and sleep with ``.copy(...)`` so a
shutdown interrupts a back-off and tests can record the intervals instead of waiting.
"""

from __future__ import annotations

import logging

from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential,
    wait_random,
)

from agent.cameras.errors import RETRYABLE

log = logging.getLogger(__name__)

ONVIF_RETRY = Retrying(
    retry=retry_if_exception_type(RETRYABLE),
    stop=stop_after_attempt(3),
    wait=wait_exponential(multiplier=0.5, max=4) + wait_random(0, 0.5),
    before_sleep=before_sleep_log(log, logging.INFO),
    reraise=True,
)
"""A few quick tries for one ONVIF request sequence; the caller decides what a final failure
means (the stream reader falls back to its configured URL or tries again later)."""

RTSP_RETRY = Retrying(
    retry=retry_if_exception_type(RETRYABLE),
    stop=stop_never,
    wait=wait_exponential(multiplier=0.5, max=5) + wait_random(0, 0.5),
    before_sleep=before_sleep_log(log, logging.WARNING),
    reraise=True,
)
"""Reopening a stream: forever (until the reader's stop event), with a short cap on the back-off
so a camera that comes back is streaming again within seconds."""
