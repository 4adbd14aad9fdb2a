"""``kendali fleet tag GATEWAY [--add T]... [--remove T]...``: a gateway's tags.

Without --add or --remove it shows the tags. Changes go straight to the controller's database
(like the other admin commands) and are audited as ``gateway.tags`` by ``NAME@cli``.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from kendali_cli.core import fail
from kendali_cli.terminal import AsOpt, ConfigOpt, DbOpt, JsonOpt, acting_user, controller_engine


def tag(  # noqa: PLR0917 - typer maps each parameter to an argument or option
    gateway: Annotated[str, typer.Argument(help="Gateway id.")],
    add: Annotated[
        list[str] | None, typer.Option("--add", help="Give the gateway this tag (repeat).")
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Take this tag off (repeat).")
    ] = None,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Show or change a gateway's tags (rollouts can target a tag: kendali rollout create
    --tag T). Tags are lower-case letters, digits, '_' and '-'. Changes are audited."""
    from sqlalchemy import select

    from controller.fleet.tags import TagError, UnknownGateway, check, set_tags, tag_map
    from controller.store.schema import gateway_sites, gateways
    from protocol.topics import GATEWAY_ID_RE

    if not GATEWAY_ID_RE.match(gateway):
        fail(f"not a gateway id: {gateway!r}", 2)
    add, remove = add or [], remove or []
    try:
        check([*add, *remove])
    except TagError as exc:
        fail(exc, 2)
    both = sorted(set(add) & set(remove))
    if both:
        fail(f"both added and removed: {', '.join(both)}; give each tag once", 2)
    with controller_engine(config, db) as engine:
        with engine.connect() as conn:
            known = conn.execute(select(gateways.c.id).where(gateways.c.id == gateway)).first()
            known = (
                known
                or conn.execute(
                    select(gateway_sites.c.gateway_id).where(gateway_sites.c.gateway_id == gateway)
                ).first()
            )
            current = tag_map(conn, gateway).get(gateway, [])
        if known is None:
            fail(f"no gateway {gateway} in the registry (kendali fleet status lists them)", 1)
        before, after = current, current
        if add or remove:
            wanted = (set(current) | set(add)) - set(remove)
            try:
                before, after = set_tags(
                    engine, gateway, wanted, who=acting_user(as_), source="cli"
                )
            except TagError as exc:
                fail(exc, 2)
            except UnknownGateway:
                fail(f"no gateway {gateway} in the registry", 1)
    if as_json:
        json.dump({"gateway": gateway, "tags": after, "before": before}, sys.stdout)
        sys.stdout.write("\n")
        return
    shown = ", ".join(after) or "(none)"
    verb = "now " if before != after else ""
    typer.echo(f"{gateway} tags {verb}{shown}")
