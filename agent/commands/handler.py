"""Commands from the controller, run in arrival order on the inbound worker (never on the link's
callback: a restart stops a camera) and answered with a ``cmd_response`` through the outbox, so
the answer survives a broken link like any message.

A request past its ``expires_at`` is refused with status ``expired`` (it may have waited in a
broker queue for hours while the gateway was offline; an old restart must not run late). An
unknown name is refused with ``unknown``. A command that raises :class:`CommandFailed` answers
``error`` with its message; anything else it raises is logged and answered ``error`` too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.link.outbox import OutboxError
from agent.link.publisher import Priority, Publisher
from common.redact import redact
from protocol.commands import CommandError, CommandRequest, CommandResponse, decode_command
from protocol.messages import MessageKind

log = logging.getLogger(__name__)

CommandFn = Callable[[dict[str, Any]], dict[str, Any]]


class CommandFailed(Exception):
    """A command that could not do what was asked; the message goes back to the operator,
    with ``result`` (what is known of the attempt) when the command has one."""

    def __init__(self, message: str, *, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result or {}


class Commands:
    def __init__(
        self,
        gateway_id: str,
        publisher: Publisher,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway_id = gateway_id
        self.publisher = publisher
        self.handlers: dict[str, CommandFn] = {}
        self.after_answer: list[Callable[[], None]] = []
        self._clock = clock
        self._monotonic = monotonic
        self.rejected_messages = 0
        self.background: set[str] = set()

    def register(self, name: str, fn: CommandFn, *, background: bool = False) -> None:
        """``background``: the command runs on a thread of its own and answers when done, so
        a long one (a camera firmware upgrade) holds up neither later commands nor the
        configuration; it must guard its own concurrency."""
        self.handlers[name] = fn
        if background:
            self.background.add(name)
        else:
            self.background.discard(name)

    def on_command(self, payload: bytes) -> None:
        try:
            req = decode_command(self.gateway_id, payload)
        except CommandError as exc:
            self.rejected_messages += 1
            log.error("command ignored: %s", redact(str(exc)))
            return
        if req.name in self.background:
            threading.Thread(
                target=lambda: self.answer(self.run(req)),
                name=f"command-{req.name}",
                daemon=True,  # an upgrade waiting on a camera must not hold up the agent's exit
            ).start()
            return
        self.answer(self.run(req))
        actions, self.after_answer = self.after_answer, []
        for action in actions:  # e.g. a restart of the agent, once its answer is stored
            action()

    def run(self, req: CommandRequest) -> CommandResponse:
        now = self._clock()
        if req.expires_at <= now:
            log.warning("command %s (%s) expired %.1f s ago: not run", req.id, req.name,
                        now - req.expires_at)  # fmt: skip
            return self._response(req, "expired", error=f"expired {now - req.expires_at:.1f} s ago")
        fn = self.handlers.get(req.name)
        if fn is None:
            log.warning("unknown command %r refused", req.name)
            known = ", ".join(sorted(self.handlers))
            return self._response(req, "unknown", error=f"unknown command; known: {known}")
        log.info("command %s: %s %s", req.id, req.name, req.args)
        started = self._monotonic()
        try:
            result = fn(dict(req.args))
        except CommandFailed as exc:
            return self._response(req, "error", result=exc.result, error=str(exc), started=started)
        except Exception as exc:
            log.exception("command %s (%s) failed", req.id, req.name)
            return self._response(
                req, "error", error=f"{type(exc).__name__}: {exc}", started=started
            )
        return self._response(req, "ok", result=result, started=started)

    def _response(
        self,
        req: CommandRequest,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str = "",
        started: float | None = None,
    ) -> CommandResponse:
        elapsed = 0.0 if started is None else max(0.0, self._monotonic() - started)
        return CommandResponse.model_validate(
            {
                "id": req.id,
                "name": req.name,
                "status": status,
                "result": result or {},
                "error": redact(error)[:2000],
                "duration_ms": round(elapsed * 1000, 3),
            }
        )

    def answer(self, response: CommandResponse) -> None:
        try:
            self.publisher.publish(MessageKind.CMD_RESPONSE, response, priority=Priority.EVENT)
        except OutboxError:
            log.exception("answer to command %s not stored", response.id)
        except ValueError as exc:  # the result does not fit the wire contract (size, shape)
            log.error("answer to command %s not sendable: %s", response.id, exc)
            text = redact(f"result not sendable: {type(exc).__name__}")
            failed = {"status": "error", "result": {}, "error": text}
            self.answer(response.model_copy(update=failed))
