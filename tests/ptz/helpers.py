"""Back-off arithmetic for the PTZ tests: what a poller's timing allows in a window."""

from __future__ import annotations

from tenacity import RetryCallState

from agent.cameras.ptz_poller import PtzTiming


def failed_attempt(attempt: int, exc: BaseException) -> RetryCallState:
    """A tenacity call state whose attempt ``attempt`` failed with ``exc``."""
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def attempts_allowed(timing: PtzTiming, window_s: float, failure: BaseException) -> int:
    """Connection attempts the back-off permits in ``window_s`` (the first one is at once)."""
    attempts, spent = 1, 0.0
    while True:
        spent += timing.wait(failed_attempt(attempts, failure))
        if spent > window_s:
            return attempts
        attempts += 1
