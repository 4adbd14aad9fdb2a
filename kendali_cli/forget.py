"""``kendali fleet forget GATEWAY``: remove a decommissioned gateway from the fleet.

What is removed and what is kept is :mod:`controller.fleet.forget`'s to say (membership rows
go, history stays, one audit row in the same transaction). This command adds the parts only a
person at a terminal needs: a confirmation showing what will be forgotten (``--yes`` skips it;
without a terminal it is required), the refusal of an online gateway (``--force`` overrides),
and the broker's retained messages for the gateway.

Retained messages matter because the broker replays them to the controller whenever it
subscribes again: the gateway's retained presence on ``.../state`` would register it anew. They
are cleared (an empty retained message on each topic) only when a controller configuration
names the broker with a user name or no authentication. With mutual TLS the broker binds the
controller's certificate to a single connection, so a second one from here would push the
running controller off; the command then prints the topics to clear instead.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kendali_cli.core import fail
from kendali_cli.terminal import AsOpt, ConfigOpt, DbOpt, acting_user, controller_engine, when

if TYPE_CHECKING:
    from controller.config import ControllerBroker

BROKER_TIMEOUT_S = 5.0


def forget(  # noqa: PLR0917 - typer maps each parameter to an argument or option
    gateway: Annotated[str, typer.Argument(help="Gateway id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Forget it even though it is online.")
    ] = False,
    as_: AsOpt = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Forget a decommissioned gateway (registry, site, configuration; history is kept).
    Audited; refuses an online gateway unless --force."""
    from protocol.topics import GATEWAY_ID_RE

    if not GATEWAY_ID_RE.match(gateway):
        fail(f"not a gateway id: {gateway!r}", 2)
    who = acting_user(as_)
    with controller_engine(config, db) as engine:
        from controller.fleet.forget import GatewayOnline, UnknownGateway, forget_gateway

        _confirm(engine, gateway, yes=yes, force=force)
        try:
            done = forget_gateway(engine, gateway, who=who, source="cli", force=force)
        except UnknownGateway:
            fail(f"no gateway {gateway} in the registry", 1)
        except GatewayOnline:
            fail(f"gateway {gateway} is online; it is not decommissioned (--force to forget it)", 1)
    removed = ", ".join(f"{t} {n}" for t, n in done.removed.items() if n)
    typer.echo(
        f"forgot {gateway} (was {done.state}{', site ' + done.site if done.site else ''}) "
        f"as {who}: removed {removed or 'nothing else'}; its history (messages, events, "
        "alerts, configuration history, audit) is kept"
    )
    _clear_retained(gateway, config)


def _confirm(engine: Any, gateway: str, *, yes: bool, force: bool) -> None:
    """Show what is about to go and ask, unless --yes; refuse early what would be refused."""
    from sqlalchemy import select

    from controller.store.schema import gateway_sites, gateways

    with engine.connect() as conn:
        row = conn.execute(
            select(gateways.c.state, gateways.c.last_seen).where(gateways.c.id == gateway)
        ).first()
        site = conn.execute(
            select(gateway_sites.c.site).where(gateway_sites.c.gateway_id == gateway)
        ).scalar()
    if row is None:
        fail(f"no gateway {gateway} in the registry", 1)
    if row.state == "online" and not force:
        fail(f"gateway {gateway} is online; it is not decommissioned (--force to forget it)", 1)
    if yes:
        return
    if not sys.stdin.isatty():
        fail("fleet forget asks for confirmation: add --yes when not at a terminal", 2)
    where = f", site {site}" if site else ""
    question = f"Forget {gateway} ({row.state}, last seen {when(row.last_seen)}{where})?"
    if not typer.confirm(question, default=False):
        fail(f"{gateway} not forgotten", 1)


def _clear_retained(gateway: str, config: Path | None) -> None:
    """Clear the gateway's retained presence and desired configuration on the broker, when a
    configuration names it and we may connect; otherwise say what is left there."""
    from protocol.topics import Topics

    topics = [Topics(gateway).state, Topics(gateway).config_desired]
    left = f"retained messages on {' and '.join(topics)} were not cleared"
    if config is None:
        _warn(f"{left}: no --config names the broker")
        return
    from common import configfile
    from controller.config import ControllerConfig

    broker = configfile.load(config, ControllerConfig).broker
    if broker.tls is not None:
        _warn(
            f"{left}: the broker binds the controller's certificate to one connection; "
            "clear them with mosquitto_pub -r -n -t TOPIC as an identity allowed to"
        )
        return
    problem = _publish_empty_retained(broker, topics)
    if problem:
        _warn(f"{left}: {problem}")
    else:
        typer.echo(f"cleared retained {' and '.join(topics)} on {broker.host}:{broker.port}")


def _warn(text: str) -> None:
    from common.redact import redact
    from common.text import escape_controls

    typer.echo(f"warning: {escape_controls(redact(text))}", err=True)


def _publish_empty_retained(broker: ControllerBroker, topics: list[str]) -> str | None:
    """Publish an empty retained message (QoS 1) on each topic; None, or why it failed."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from protocol.codec import new_id

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"kendali-forget-{new_id()[:12]}",
        protocol=mqtt.MQTTv5,
    )
    client.connect_timeout = BROKER_TIMEOUT_S
    if broker.username:
        secret = broker.password.get_secret_value() if broker.password else None
        client.username_pw_set(broker.username, secret)
    connected = threading.Event()
    answer: dict[str, Any] = {}
    refused: list[str] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        answer["reason"] = reason
        connected.set()

    def on_publish(_c: Any, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            refused.append(str(reason))

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:
        return f"broker {broker.host}:{broker.port} unreachable ({exc.strerror or exc})"
    client.loop_start()
    try:
        return _publish_all(client, topics, connected, answer, refused)
    finally:
        client.disconnect()
        client.loop_stop()


def _publish_all(
    client: Any,
    topics: list[str],
    connected: threading.Event,
    answer: dict[str, Any],
    refused: list[str],
) -> str | None:
    if not connected.wait(BROKER_TIMEOUT_S):
        return "the broker did not answer the connection"
    if answer["reason"].is_failure:
        return f"the broker refused the connection ({answer['reason']})"
    infos = [client.publish(t, b"", qos=1, retain=True) for t in topics]
    for info in infos:
        try:
            info.wait_for_publish(BROKER_TIMEOUT_S)
        except (RuntimeError, ValueError) as exc:  # paho: lost connection, queue refused
            return f"publish failed ({exc})"
        if not info.is_published():
            return "the broker did not acknowledge the publish"
    return f"the broker refused ({', '.join(refused)})" if refused else None
