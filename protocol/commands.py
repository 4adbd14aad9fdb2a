"""Remote commands, controller -> gateway on ``kendali/v1/gw/<gw>/cmd``, and the answer.

The request goes out as an MQTT v5 request (ResponseTopic, CorrelationData, MessageExpiryInterval)
and carries the same fields in its JSON body: the agent answers through its outbox, which keeps a
topic and a payload only, so the correlation id and the expiry must travel in the body. The answer
is an ordinary envelope of kind ``cmd_response`` on ``.../cmd/response``.

Requests start with ``{"v":1,"gw":`` like everything the controller writes on a gateway's subtree.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from protocol.envelope import (
    MAX_WIRE_INT,
    SCHEMA_VERSION,
    GatewayId,
    MessageId,
    WireModel,
    decode_addressed,
)

MAX_REQUEST_BYTES = 8 * 1024

# name -> what its arguments look like on the command line (for usage lines and the docs).
COMMANDS: dict[str, str] = {
    "ping": "",
    "restart": "agent | camera ID | sensor ID",
    "snapshot": "CAMERA",
    "probe-sensors": "",
    "log": "[--lines N]",
    "config-reported": "",
    "camera-firmware": "CAMERA IMAGE_URL VERSION SHA256",
    "update": "RELEASE_URL VERSION [--rollout ID] [--allow-downgrade]",
}
# A PEP 440 release version as a command may carry it (the signed manifest is the authority).
VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+!_-]{0,63}$")
ARG_MAX = 128  # characters of one string argument (ArgValue)
LOG_LINES_MAX = 1000
LOG_LINES_DEFAULT = 100

CommandName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
ArgValue = int | Annotated[str, StringConstraints(max_length=128)]


class CommandError(ValueError):
    """A request that does not follow the contract, or command-line arguments that do not fit."""


class CommandRequest(WireModel):
    v: int = Field(default=SCHEMA_VERSION, ge=0, le=MAX_WIRE_INT)
    gw: GatewayId
    id: MessageId = Field(description="Correlation id: the answer carries it back.")
    name: CommandName
    args: dict[Annotated[str, StringConstraints(max_length=32)], ArgValue] = Field(
        default_factory=dict, max_length=16
    )
    expires_at: float = Field(gt=0, description="Wall time after which it must not be run.")


class CommandResponse(WireModel):
    """The body of a ``cmd_response`` envelope. ``result`` is free-form per command (bounded by
    the codec's size and complexity limits, like event attributes)."""

    id: MessageId
    name: Annotated[str, StringConstraints(max_length=64)]
    status: Literal["ok", "error", "expired", "unknown"]
    result: dict[Annotated[str, StringConstraints(max_length=64)], Any] = Field(
        default_factory=dict, max_length=64
    )
    error: str = Field(default="", max_length=2000)
    duration_ms: float = Field(default=0.0, ge=0)


def encode_command(
    gateway_id: str, cmd_id: str, name: str, args: dict[str, Any], expires_at: float
) -> bytes:
    body = CommandRequest(gw=gateway_id, id=cmd_id, name=name, args=args, expires_at=expires_at)
    payload = body.model_dump_json().encode()
    if len(payload) > MAX_REQUEST_BYTES:
        raise CommandError(f"command of {len(payload)} bytes > {MAX_REQUEST_BYTES}")
    return payload


def decode_command(gateway_id: str, payload: bytes) -> CommandRequest:
    return decode_addressed(
        CommandRequest,
        gateway_id,
        payload,
        what="command",
        max_bytes=MAX_REQUEST_BYTES,
        error=CommandError,
    )


def parse_args(name: str, words: list[str]) -> dict[str, Any]:
    """Command-line words -> the request's ``args``; raises CommandError with a usage line."""
    if name not in COMMANDS:
        raise CommandError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
    usage = f"usage: {name} {COMMANDS[name]}".rstrip()
    if name == "restart":
        if words == ["agent"]:
            return {"target": "agent"}
        if len(words) == 2 and words[0] in ("camera", "sensor"):
            return {"target": words[0], "id": words[1]}
        raise CommandError(usage)
    if name == "snapshot":
        if len(words) != 1:
            raise CommandError(usage)
        return {"camera": words[0]}
    if name == "log":
        return {"lines": _log_lines(words, usage)}
    return _other_args(name, words, usage)


def _other_args(name: str, words: list[str], usage: str) -> dict[str, Any]:
    if name == "camera-firmware":
        return _camera_firmware(words, usage)
    if name == "update":
        return update_args(words, usage)
    if words:
        raise CommandError(usage)
    return {}


def _camera_firmware(words: list[str], usage: str) -> dict[str, Any]:
    """Camera id, the image's http(s) URL, the version it must report afterwards, and the
    image's SHA-256 (checked on the gateway before anything reaches the camera)."""
    if len(words) != 4:
        raise CommandError(f"{usage} (quote a VERSION that contains spaces)")
    camera, url, version, sha256 = words
    if not url.lower().startswith(("http://", "https://")):
        raise CommandError(f"{usage}: IMAGE_URL must be http:// or https://")
    if len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256):
        raise CommandError(f"{usage}: SHA256 must be the image's 64 hex digit SHA-256")
    for label, value in (("CAMERA", camera), ("IMAGE_URL", url), ("VERSION", version)):
        if not value or len(value) > ARG_MAX:
            raise CommandError(f"{usage}: {label} must be 1 to {ARG_MAX} characters")
    return {"camera": camera, "url": url, "version": version, "sha256": sha256.lower()}


ROLLOUT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def update_args(
    words: list[str], usage: str = f"usage: update {COMMANDS['update']}"
) -> dict[str, Any]:
    """The ``update`` command: the release directory's http(s) URL (it holds manifest.json,
    manifest.sig and the wheels), the version the operator expects the signed manifest to name,
    an optional rollout id (echoed in the agent's health so the controller can tell whose
    attempt it sees) and ``allow_downgrade`` (1 only for an operator's explicit rollback).

    The same checks run on the gateway (:func:`check_update_args`), so a request built by hand
    cannot slip past them."""
    rest = list(words)
    args: dict[str, Any] = {"allow_downgrade": 0}
    if "--allow-downgrade" in rest:
        rest.remove("--allow-downgrade")
        args["allow_downgrade"] = 1
    if "--rollout" in rest:
        at = rest.index("--rollout")
        if at + 1 >= len(rest):
            raise CommandError(f"{usage}: --rollout needs an ID")
        args["rollout"] = rest[at + 1]
        del rest[at : at + 2]
    if len(rest) != 2:
        raise CommandError(usage)
    args["url"], args["version"] = rest
    try:
        return check_update_args(args)
    except CommandError as exc:
        raise CommandError(f"{usage}: {exc}") from None


def check_update_args(args: dict[str, Any]) -> dict[str, Any]:
    """Normalised ``update`` arguments, or CommandError naming the bad one."""
    url, version = args.get("url"), args.get("version")
    rollout, downgrade = args.get("rollout", ""), args.get("allow_downgrade", 0)
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise CommandError(
            "RELEASE_URL must be an http:// or https:// URL of the release directory"
        )
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise CommandError("VERSION must be a release version such as 1.4.0 or 1.5.0rc1")
    if not isinstance(rollout, str) or (rollout and not ROLLOUT_ID_RE.match(rollout)):
        raise CommandError("the rollout id must be 1 to 64 letters, digits or ._:-")
    if downgrade not in (0, 1):
        raise CommandError("allow_downgrade must be 0 or 1")
    for label, value in (("RELEASE_URL", url), ("VERSION", version)):
        if len(value) > ARG_MAX:
            raise CommandError(f"{label} must be at most {ARG_MAX} characters")
    out: dict[str, Any] = {"url": url, "version": version, "allow_downgrade": int(downgrade)}
    if rollout:
        out["rollout"] = rollout
    return out


def _log_lines(words: list[str], usage: str) -> int:
    if not words:
        return LOG_LINES_DEFAULT
    value = words[1] if len(words) == 2 and words[0] == "--lines" else None
    if len(words) == 1 and words[0].startswith("--lines="):
        value = words[0].split("=", 1)[1]
    if value is None or not value.isdigit() or not 1 <= int(value) <= LOG_LINES_MAX:
        raise CommandError(f"{usage} (N from 1 to {LOG_LINES_MAX})")
    return int(value)


def result_json(result: dict[str, Any]) -> str:
    return json.dumps(result, separators=(",", ":"), sort_keys=True)
