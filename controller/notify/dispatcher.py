"""Delivering to one apprise channel: rate limit, render, send with retries, record the outcome.

- **Rate limit**: a token bucket per channel. A message that finds no token waits in the lane's
  queue; one that has waited longer than ``queue_max_wait_s`` is dead-lettered ``rate_limited``.
  A full queue dead-letters ``queue_full``. Nothing is dropped without a row in
  ``notification_dead`` and a counter.
- **Retries**: :data:`DELIVERY_RETRY` (tenacity), bound per channel to the configured attempts,
  back-off and the lane's stop event; the sleep is injected so tests record the intervals. A
  refusal that retrying cannot fix (HTTP 401/403, other 4xx) is dead-lettered at once.
- **Outcome**: ``notify.sent`` / ``notify.failed`` (failed attempts) / ``notify.dead`` counters,
  overall and per channel, written in the same transaction as the lane's progress row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential_jitter,
)

from controller.notify.channel import AppriseChannel, DeliveryFailed
from controller.notify.config import NotificationsSection, RetrySection
from controller.notify.journal import DeadLetter, NotifyStore
from controller.notify.lane import Job, Lane, Stopped
from controller.notify.ratelimit import TokenBucket
from controller.notify.templates import Message, render

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryFailed) and not exc.permanent


DELIVERY_RETRY = Retrying(
    retry=retry_if_exception(_retryable),
    stop=stop_after_attempt(4),
    wait=wait_exponential_jitter(multiplier=2, max=60),
    reraise=True,
)
"""A few tries with a growing wait for one notification; bound per channel by
:func:`delivery_policy` (attempts, back-off, the lane's stop event, an injected sleep)."""


class _AtLeastAsked:
    """The back-off, but never shorter than the wait the service asked for (a 429's
    ``retry after N``), itself capped at the longest back-off: trying earlier is refused again."""

    def __init__(self, backoff: Callable[[RetryCallState], float], longest: float) -> None:
        self.backoff, self.longest = backoff, longest

    def __call__(self, state: RetryCallState) -> float:
        wait = self.backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None)
        return max(wait, min(asked, self.longest)) if asked else wait


def delivery_policy(
    retry: RetrySection, lane: Lane, sleep: Sleep | None, on_retry: Callable[[RetryCallState], None]
) -> Retrying:
    backoff = wait_exponential_jitter(
        multiplier=retry.backoff_initial_s,
        max=retry.backoff_max_s,
        jitter=retry.backoff_initial_s / 4,
    )
    return DELIVERY_RETRY.copy(
        stop=stop_after_attempt(retry.attempts) | stop_when_event_set(lane.stop_event),
        wait=_AtLeastAsked(backoff, retry.backoff_max_s),
        sleep=sleep or lane.stop_event.wait,
        before_sleep=on_retry,
    )


class ChannelLane(Lane):
    def __init__(
        self,
        channel: AppriseChannel,
        config: NotificationsSection,
        store: NotifyStore,
        *,
        done_through: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        super().__init__(
            channel.name, queue_max=config.queue_max, done_through=done_through, clock=clock
        )
        self.channel = channel
        self.config = config
        self.store = store
        section = config.channels[channel.name]
        self.language = section.language
        self.bucket = TokenBucket(section.rate_per_minute, section.burst, clock())
        self._sleep = sleep

    def overflow(self, job: Job) -> None:
        log.warning(
            "notify channel %s: queue full, journal %d dead-lettered", self.name, job.entry.id
        )
        # Older jobs are still queued: the lane's progress row must not move past them.
        self._dead(
            job,
            self._message(job),
            0,
            "queue_full",
            f"{self.queue_max} waiting already",
            advance=False,
        )

    def poisoned(self, job: Job, reason: str) -> None:
        code, _, detail = reason.partition(": ")
        self._dead(job, Message("", ""), 0, code, detail)

    def handle(self, job: Job) -> None:
        if not self._wait_for_token(job):
            waited = self.clock() - job.queued_at
            log.warning(
                "notify channel %s: rate limit held journal %d for %.0f s; dead-lettered",
                self.name,
                job.entry.id,
                waited,
            )
            limit = self.config.channels[self.name]
            detail = (
                f"no slot within {self.config.queue_max_wait_s:g} s (waited {waited:.1f} s) at "
                f"{limit.rate_per_minute:g}/min, burst {limit.burst}"
            )
            self._dead(job, self._message(job), 0, "rate_limited", detail)
            return
        message = self._message(job)
        attempts, error = self._deliver(job, message)
        if error is None:
            self.store.record_sent(self.name, job.entry.id, self._counts("sent", attempts - 1))
            log.info(
                "notify channel %s: journal %d (%s %s) sent after %d attempt(s) [%s]",
                self.name,
                job.entry.id,
                job.entry.action,
                job.entry.type,
                attempts,
                ", ".join(job.reasons),
            )
            return
        code = "refused" if error.permanent else "failed"
        self._dead(job, message, attempts, code, error.reason)

    def _wait_for_token(self, job: Job) -> bool:
        """True once a token is taken; False when the job waited past ``queue_max_wait_s``."""
        while True:
            if self.stop_event.is_set():
                raise Stopped
            now = self.clock()
            left = job.queued_at + self.config.queue_max_wait_s - now
            if left < 0:
                return False
            wait = self.bucket.take(now)
            if wait == 0.0:
                return True
            if wait > left:  # no token will come in time: do not hold the lane any longer
                return False
            self.stop_event.wait(min(wait, 1.0))

    def _message(self, job: Job) -> Message:
        return render(
            job.entry,
            language=self.language,
            console_url=self.config.console_url,
            max_chars=self.channel.max_chars,
            title_max=self.channel.title_max,
        )

    def _jpeg(self, job: Job) -> bytes | None:
        snapshot_id = job.entry.alert.get("snapshot_id")
        if not self.channel.attachments or not isinstance(snapshot_id, int):
            return None
        try:
            return self.store.snapshot_jpeg(snapshot_id)
        except Exception as exc:  # the picture is a bonus: send the text without it
            log.warning("notify: snapshot %d unreadable (%s); sent without it", snapshot_id, exc)
            return None

    def _deliver(self, job: Job, message: Message) -> tuple[int, DeliveryFailed | None]:
        jpeg = self._jpeg(job)
        attempts = 0
        policy = delivery_policy(self.config.retry, self, self._sleep, self._log_retry)
        try:
            for attempt in policy:
                with attempt:
                    attempts += 1
                    self.channel.send(
                        message,
                        severity=job.entry.severity,
                        cleared=job.entry.action in ("cleared", "closed"),
                        jpeg=jpeg,
                    )
        except DeliveryFailed as exc:
            if self.stop_event.is_set() and not exc.permanent:
                raise Stopped from exc
            return attempts, exc
        return attempts, None

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "notify channel %s: attempt %d failed (%s); next in %.1f s",
            self.name,
            state.attempt_number,
            getattr(exc, "reason", exc),
            state.upcoming_sleep,
        )

    def _counts(self, outcome: str, failed_attempts: int) -> dict[str, int]:
        return {
            f"notify.{outcome}": 1,
            f"notify.{self.name}.{outcome}": 1,
            "notify.failed": failed_attempts,
            f"notify.{self.name}.failed": failed_attempts,
        }

    def _dead(
        self,
        job: Job,
        message: Message,
        attempts: int,
        code: str,
        detail: str,
        *,
        advance: bool = True,
    ) -> None:
        deltas = self._counts("dead", attempts)
        deltas[f"notify.dead.{code}"] = 1
        self.store.record_dead(
            DeadLetter(
                channel=self.name,
                alert_id=job.entry.alert_id,
                journal_id=job.entry.id,
                attempts=attempts,
                reason=f"{code}: {detail}",
                title=message.title,
                body=message.body,
            ),
            self.name if advance else None,
            deltas,
        )
        if code not in ("rate_limited", "queue_full"):
            log.warning(
                "notify channel %s: journal %d dead-lettered after %d attempt(s): %s",
                self.name,
                job.entry.id,
                attempts,
                detail,
            )
