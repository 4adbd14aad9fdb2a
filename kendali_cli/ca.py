"""``kendali ca init|issue|revoke|list``: the fleet's certificate authority on disk
(provisioning/ca_dir.py). Keys are created owner-only and never overwritten."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kendali_cli.core import fail

app = typer.Typer(help="The fleet CA: root, intermediate, broker and client certificates, CRL.",
                  no_args_is_help=True)  # fmt: skip

DirOpt = Annotated[Path, typer.Option("--dir", help="The CA directory.")]


def _errors() -> tuple[type[Exception], ...]:
    from common.pki import PkiError
    from provisioning.ca_dir import CaDirError

    return CaDirError, PkiError


@app.command()
def init(
    folder: DirOpt = Path("pki"),
    broker_name: Annotated[
        list[str] | None,
        typer.Option("--broker-name", help="A host name or address gateways reach the broker "
                     "by; repeat. Default: 127.0.0.1 and localhost."),
    ] = None,
) -> None:  # fmt: skip
    """Create the root and the intermediate, the broker's server certificate, the controller's
    identities and an empty CRL."""
    from provisioning.ca_dir import CaDir

    try:
        written = CaDir(folder).init(broker_name or ["127.0.0.1", "localhost"])
    except _errors() as exc:
        fail(exc, 2)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(
        f"Move {folder / 'root'} to offline storage now: only renewing the intermediate needs "
        "it. The broker's TLS listener for this CA is in mosquitto-kendali.conf, with this "
        "folder's paths: for /etc/mosquitto/conf.d/ under Debian's mosquitto.conf, which sets "
        "persistence_location (the ACL is expected at /etc/mosquitto/kendali.acl: "
        "deploy/mosquitto/kendali.acl). On a controller host installed with deploy/install.sh "
        "use its conf.d/kendali.conf instead (docs/deploy.md)."
    )


@app.command()
def issue(
    name: Annotated[str, typer.Argument(help="The identity (a gateway id) or server name.")],
    server: Annotated[bool, typer.Option("--server", help="A server certificate.")] = False,
    names: Annotated[
        list[str] | None, typer.Option("--name", help="A server's host name or address; repeat.")
    ] = None,
    days: Annotated[float, typer.Option(min=1, max=825, help="Validity in days.")] = 397,
    folder: DirOpt = Path("pki"),
) -> None:
    """Issue a client identity (default) or a server certificate, with a new key."""
    from provisioning.ca_dir import CaDir

    try:
        cert, key = CaDir(folder).issue(
            name, "server" if server else "client", names or [], days=days
        )
    except _errors() as exc:
        fail(exc, 2)
    typer.echo(f"wrote {cert}\nwrote {key} (owner-only)")


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The identity to refuse from now on.")],
    folder: DirOpt = Path("pki"),
) -> None:
    """Put a certificate on the CRL; the broker must then re-read it (SIGHUP): on an installed
    controller host kendali-crl-reload.path does that after checking the file."""
    from provisioning.ca_dir import CaDir

    try:
        crl = CaDir(folder).revoke(name)
    except _errors() as exc:
        fail(exc, 2)
    typer.echo(
        f"revoked {name}; wrote {crl}. The broker refuses it once it re-reads the CRL: on a "
        "controller host installed with deploy/install.sh kendali-crl-reload.path does that "
        "(check: systemctl status kendali-crl-reload); elsewhere: systemctl reload mosquitto."
    )


@app.command("list")
def list_(folder: DirOpt = Path("pki")) -> None:
    """Every certificate issued here: usage, expiry, revocation."""
    from common.text import for_terminal
    from provisioning.ca_dir import CaDir

    try:
        issued = CaDir(folder).issued()
    except _errors() as exc:
        fail(exc, 2)
    for name, entry in sorted(issued.items()):
        state = f"revoked {entry['revoked_at']}" if entry.get("revoked_at") else "valid"
        typer.echo(
            f"{for_terminal(name):<28} {entry['usage']:<7} until {entry['not_after']}  {state}"
        )
