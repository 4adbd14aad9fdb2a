"""The pure half of ingest: decode -> de-duplicate -> apply, over data, with no MQTT and no I/O
beyond the caller's transaction.

Every message ends in exactly one bucket: stored (new), duplicate (already committed) or
quarantined (it failed on its own: decode, apply or storage, with the stage and reason). All
three are acknowledged, to the broker and end-to-end to the gateway, because all three are now
the controller's responsibility; a quarantined message is kept raw for an operator to inspect.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import NamedTuple

from common.text import safe_text
from controller.fleet.presence import apply_birth, apply_death, apply_heard
from controller.fleet.registry import Stage
from controller.store.repo import NewMessage, Quarantined
from protocol.codec import Decoded, DecodeError, decode
from protocol.envelope import MAX_WIRE_INT
from protocol.messages import Birth, ConfigReport, Death, GatewayHealth
from protocol.topics import gateway_of

# Topics on gateways' subtrees that the controller itself writes, and how all its payloads start
# (protocol.ack.encode_ack, protocol.desired.encode_desired, protocol.commands.encode_command).
CONTROLLER_WRITES = ("/ack", "/config/desired", "/cmd")
ACK_PREFIX = b'{"v":1,"gw":'


log = logging.getLogger(__name__)

QUARANTINE_PAYLOAD_MAX = 64 * 1024  # raw bytes kept per quarantined message (size is recorded)


class Incoming(NamedTuple):
    """A message as it came off the wire (a tuple: one is built per message)."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: float
    retained: bool = False


class Accepted(NamedTuple):
    raw: Incoming
    decoded: Decoded


@dataclass
class Outcome:
    """What one commit did. The sequence numbers now safe centrally are those of ``stored``
    plus ``acks`` (duplicates and quarantined messages); :meth:`safe` gives them all."""

    stored: list[NewMessage] = field(default_factory=list)
    duplicates: int = 0
    echoes: int = 0  # our own acknowledgements coming back through an old subscription
    quarantined: list[Quarantined] = field(default_factory=list)
    acks: dict[str, list[int]] = field(default_factory=dict)

    def ack(self, gid: str | None, seq: int | None) -> None:
        if gid is not None and seq is not None and 1 <= seq <= MAX_WIRE_INT:
            self.acks.setdefault(gid, []).append(seq)

    def safe(self) -> dict[str, list[int]]:
        """Gateway id -> every sequence number this commit made safe (presence's 0 excluded)."""
        out: dict[str, list[int]] = {gid: list(seqs) for gid, seqs in self.acks.items()}
        for row in self.stored:
            if row.seq:
                out.setdefault(row.gateway_id, []).append(row.seq)
        return out


def quarantine_record(raw: Incoming, stage: str, reason: str, detail: str) -> Quarantined:
    return Quarantined(
        at=raw.received_at,
        gateway_id=gateway_of(raw.topic) or "",
        topic=safe_text(raw.topic, 300),
        stage=stage,
        reason=reason,
        detail=safe_text(detail, 500),
        size=len(raw.payload),
        payload=raw.payload[:QUARANTINE_PAYLOAD_MAX],
    )


def lenient_seq(raw: Incoming, reason: str) -> int | None:
    """The sequence number of a message we could not accept, when it can be read cheaply, so the
    gateway can stop resending it. Oversized or over-complex payloads are not parsed at all."""
    if reason in ("too_large", "too_complex") or gateway_of(raw.topic) is None:
        return None
    try:
        seq = json.loads(raw.payload).get("seq")
    except (ValueError, AttributeError, RecursionError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def decode_all(batch: list[Incoming], out: Outcome) -> list[Accepted]:
    """Decode every message; the ones that fail go to quarantine with their reason. Our own
    acknowledgements are only counted: we subscribe with "no local", but a session created by an
    older controller keeps its old subscription options, and the broker's ACL lets no gateway
    write there. Anything else on an ack topic is decoded, and quarantined, like any message."""
    accepted = []
    for raw in batch:
        if raw.topic.endswith(CONTROLLER_WRITES) and raw.payload.startswith(ACK_PREFIX):
            out.echoes += 1
            continue
        try:
            accepted.append(Accepted(raw, decode(raw.topic, raw.payload)))
        except DecodeError as exc:
            out.quarantined.append(quarantine_record(raw, "decode", exc.reason, exc.detail))
            out.ack(gateway_of(raw.topic), lenient_seq(raw, exc.reason))
    return accepted


def apply_all(accepted: list[Accepted], seen: set[str], stage: Stage, out: Outcome) -> None:
    """De-duplicate on message id and apply each new message to the stage. A message whose
    apply raises is quarantined and its gateway's copy rolled back; the others go on."""
    for a in accepted:
        env = a.decoded.envelope
        if env.id in seen:
            out.duplicates += 1
            out.ack(env.gw, env.seq)
            continue
        seen.add(env.id)
        # Presence changes many fields: keep a copy to roll back to. The hot path (health,
        # events, telemetry) only assigns a few scalars and needs none.
        presence = type(a.decoded.body) in _PRESENCE
        saved = stage.checkpoint(env.gw) if presence else None
        try:
            apply_one(a, stage)
            raw = a.raw
            row = NewMessage(
                env.id,
                env.gw,
                env.seq,
                env.kind,
                raw.topic,
                env.ts,
                raw.received_at,
                env.historical,
                raw.payload.decode(),
            )
        except Exception as exc:
            if presence:
                stage.restore(env.gw, saved)
            log.exception("message %s from %s failed to apply; quarantined", env.id, env.gw)
            out.quarantined.append(quarantine_record(a.raw, "apply", type(exc).__name__, str(exc)))
            out.ack(env.gw, env.seq)
            continue
        out.stored.append(row)


_PRESENCE = (Birth, Death)


def apply_one(a: Accepted, stage: Stage) -> None:
    """Presence, last-seen and latest-health effects of one message on its gateway."""
    env, body, raw = a.decoded.envelope, a.decoded.body, a.raw
    now = raw.received_at
    gw = stage.gateway(env.gw, now)
    if isinstance(body, Birth):
        if apply_birth(gw, body, now, replay=raw.retained):
            log.info(
                "gateway %s online (session %d, agent %s)",
                gw.id,
                body.session,
                safe_text(body.agent_version, 64),
            )
        if not raw.retained:
            apply_heard(gw, now, historical=False)
        return
    if isinstance(body, Death):
        if apply_death(gw, body, now):
            log.info("gateway %s offline (%s)", gw.id, body.reason)
        return
    if apply_heard(gw, now, env.historical):
        log.info("gateway %s heard again: online", gw.id)
    if isinstance(body, ConfigReport) and body.running_version != gw.config_version:
        gw.config_version = body.running_version
        gw.dirty = True
    if env.seq > gw.last_seq:
        gw.last_seq = env.seq
        gw.touched = True
    # Which health is "latest" is decided by arrival, not by the gateway's clock: a sample
    # stamped in 2100 once froze it. Live samples arrive in order; a backlog sample only fills
    # a gap.
    if isinstance(body, GatewayHealth) and (not env.historical or gw.last_health is None):
        gw.last_health = body
        gw.last_health_ts = env.ts
        gw.touched = True
