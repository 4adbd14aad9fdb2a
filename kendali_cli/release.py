"""``kendali release keygen|rotate|build|verify`` and ``kendali release trust export``: signed
agent releases (common/release). Keys are made and used on an offline machine; what leaves it is
the artifact directory and the trust file gateways pin. See docs/releases.md."""

from __future__ import annotations

import datetime
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kendali_cli.core import fail

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from common.release import SignedRotation, TrustStore

app = typer.Typer(
    help="Signed agent releases: release keys and their rotation, build, verify, trust file.",
    no_args_is_help=True,
)
trust_app = typer.Typer(help="The trust file gateways pin.", no_args_is_help=True)
app.add_typer(trust_app, name="trust")

KeyOpt = Annotated[
    Path,
    typer.Option(
        "--key", help="The release private key (release-key.pem, or the directory keygen made)."
    ),
]
PASSPHRASE_ENV = "KENDALI_RELEASE_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
PromptOpt = Annotated[
    bool,
    typer.Option(
        "--passphrase-prompt",
        help="Ask for the release key's passphrase on the terminal (not echoed) instead of "
        f"reading {PASSPHRASE_ENV}. The passphrase is never taken as an argument.",
    ),
]
NoPassphraseOpt = Annotated[
    bool,
    typer.Option(
        "--no-passphrase",
        help=f"Write the new private key unencrypted even when {PASSPHRASE_ENV} is set (also "
        "the default without it or --passphrase-prompt: the file is then protected only by its "
        "permissions and the offline medium).",
    ),
]
_DURATION_RE = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
MAX_EXPIRY = datetime.timedelta(days=366)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _duration(text: str, option: str) -> datetime.timedelta:
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None:
        fail(f"{option} {text!r}: give a number and a unit, for example 90d, 12h or 30m", 2)
    return datetime.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _when(text: str) -> datetime.datetime:
    """``now``, a delay from now (``7d``), or an ISO 8601 time with its zone."""
    if text.strip() == "now":
        return _now()
    if _DURATION_RE.fullmatch(text.strip()):
        return _now() + _duration(text, "--valid-from")
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        fail(
            f"--valid-from {text!r}: give 'now', a delay such as 7d, or a time with its zone "
            "such as 2027-01-15T00:00:00Z",
            2,
        )
    return when.astimezone(datetime.UTC)


def _version(text: str | None, option: str) -> str | None:
    from common.release import parse_version

    if text is None:
        return None
    try:
        parse_version(text)
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)
    return text


def _env_passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        return None
    if not value:
        fail(f"{PASSPHRASE_ENV} is set but empty; unset it or put the passphrase in it", 2)
    return value.encode()


def _ask(prompt: str, *, confirm: bool) -> bytes:
    """A passphrase typed on the terminal without echo (twice for a new key)."""
    import getpass

    if not sys.stdin.isatty():
        fail(f"--passphrase-prompt needs a terminal; without one, set {PASSPHRASE_ENV}", 2)
    try:
        first = getpass.getpass(prompt)
        again = getpass.getpass("the same passphrase again: ") if confirm else first
    except (EOFError, KeyboardInterrupt):
        fail("no passphrase was typed; nothing was done", 2)
    if not first:
        fail("an empty passphrase; type one, or use --no-passphrase for an unencrypted key", 2)
    if first != again:
        fail("the two passphrases differ; nothing was written, run the command again", 2)
    return first.encode()


def _new_passphrase(prompt: bool, none: bool) -> bytes | None:
    """The passphrase a new private key is encrypted with; None writes it unencrypted."""
    if prompt and none:
        fail("--passphrase-prompt and --no-passphrase contradict each other; give one", 2)
    if none:
        return None
    if prompt:
        return _ask("passphrase for the new release key: ", confirm=True)
    return _env_passphrase()


def _private(path: Path, prompt: bool = False) -> Ed25519PrivateKey:
    """The release private key; an encrypted one is opened with the passphrase from
    KENDALI_RELEASE_PASSPHRASE or, with --passphrase-prompt, typed (asked only when needed)."""
    from common.release import KeyFileError, PassphraseError, keys

    file = keys.private_key_path(path)
    passphrase, source = None, ""
    try:
        if keys.is_encrypted(file):
            if prompt:
                passphrase, source = _ask(f"passphrase for {file}: ", confirm=False), "typed"
            else:
                passphrase, source = _env_passphrase(), f"in {PASSPHRASE_ENV}"
        return keys.load_private(file, passphrase)
    except PassphraseError as exc:
        if exc.missing:
            fail(
                f"{file} is encrypted with a passphrase: set {PASSPHRASE_ENV} to it or run with "
                "--passphrase-prompt on a terminal",
                2,
            )
        fail(
            f"{file}: the passphrase {source} does not open it (wrong passphrase, or the file "
            "is damaged); nothing was signed",
            2,
        )
    except KeyFileError as exc:
        fail(exc, 2)


def _wrote(pem: Path, pub: Path, passphrase: bytes | None) -> None:
    if passphrase:
        typer.echo(f"wrote {pem} (private, owner-only, encrypted with the passphrase) and {pub}")
        return
    typer.echo(f"wrote {pem} (private, owner-only, NOT encrypted) and {pub}")
    typer.echo(
        f"Only its file permissions and the medium protect {pem}; for a passphrase, make keys "
        f"with --passphrase-prompt or {PASSPHRASE_ENV} set."
    )


@app.command()
def keygen(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for release-key.pem and release-key.pub.")
    ],
    passphrase_prompt: PromptOpt = False,
    no_passphrase: NoPassphraseOpt = False,
) -> None:
    """Make a release signing key (Ed25519): release-key.pem (owner-only) and release-key.pub.
    Refuses to overwrite an existing key. Keep the directory offline.

    The private key is encrypted with a passphrase taken from KENDALI_RELEASE_PASSPHRASE or,
    with --passphrase-prompt, typed twice on the terminal; without either it is written
    unencrypted (said so in the output). build and rotate then need the same passphrase."""
    from common.release import KeyFileError, keys

    passphrase = _new_passphrase(passphrase_prompt, no_passphrase)
    private = keys.new_key()
    try:
        pem, pub = keys.save_new_key(private, out, passphrase)
    except KeyFileError as exc:
        fail(exc, 2)
    _wrote(pem, pub, passphrase)
    typer.echo(f"key id {keys.key_id(private.public_key())}")
    typer.echo(
        f"Pin it on gateways with `kendali release trust export --key {pub} --out trust.json`; "
        f"move {pem} to offline storage."
    )


@app.command()
def rotate(
    old_key: Annotated[
        Path, typer.Option("--old-key", help="The current private key (it signs the statement).")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="Directory for the new key pair and rotation.json."),
    ],
    valid_from: Annotated[
        str,
        typer.Option(
            "--valid-from",
            help="When the new key takes over and the old one stops signing: 'now', a delay "
            "(7d, 12h) or an ISO 8601 time with zone. Until then both keys sign.",
        ),
    ] = "now",
    passphrase_prompt: PromptOpt = False,
    no_passphrase: NoPassphraseOpt = False,
) -> None:
    """Make a new release key and a rotation statement signed by the old key, so gateways that
    pin the old key come to trust the new one.

    An encrypted old key is opened with KENDALI_RELEASE_PASSPHRASE, or with --passphrase-prompt
    typed on the terminal. The new key is encrypted like keygen's: with the same variable's
    passphrase, with a new one typed twice under --passphrase-prompt, or not at all
    (--no-passphrase, or neither given)."""
    from common.release import KeyFileError, keys, make_rotation

    when = _when(valid_from)
    statement_path = out / "rotation.json"
    if statement_path.exists():
        fail(f"{statement_path} already exists; choose another --out directory", 2)
    if passphrase_prompt and no_passphrase:
        _new_passphrase(passphrase_prompt, no_passphrase)  # refuses the pair
    old = _private(old_key, passphrase_prompt)
    passphrase = _new_passphrase(passphrase_prompt, no_passphrase)
    new = keys.new_key()
    rotation = make_rotation(old, new.public_key(), when, now=_now())
    try:
        pem, pub = keys.save_new_key(new, out, passphrase)
        statement_path.write_text(rotation.model_dump_json(indent=2) + "\n")
    except (KeyFileError, OSError) as exc:
        fail(exc, 2)
    st = rotation.statement
    _wrote(pem, pub, passphrase)
    typer.echo(f"wrote {statement_path}")
    typer.echo(f"key {st.new_key_id} succeeds {st.old_key_id} from {st.valid_from.isoformat()}")
    typer.echo(
        "Add the statement to the trust file (`kendali release trust export ... --rotation "
        f"{statement_path}`) and send it to gateways before {st.valid_from.isoformat()}."
    )


def _wheels(folder: Path | None, files: list[Path] | None) -> list[Path]:
    if (folder is None) == (not files):
        fail("give either --wheels DIR or one or more --wheel FILE", 2)
    if folder is not None:
        if not folder.is_dir():
            fail(f"--wheels {folder} is not a directory", 2)
        found = sorted(folder.glob("*.whl"))
        if not found:
            fail(f"no .whl files in {folder}; build them with `pip wheel . -w {folder}`", 2)
        return found
    return list(files or [])


@app.command()
def build(  # noqa: PLR0917 - typer maps each parameter to an option
    version: Annotated[str, typer.Option("--version", help="The release's PEP 440 version.")],
    key: KeyOpt,
    out: Annotated[
        Path,
        typer.Option("--out", help="Artifact directory to create (new or empty)."),
    ],
    wheels: Annotated[
        Path | None,
        typer.Option("--wheels", help="A directory whose *.whl files make the release."),
    ] = None,
    wheel: Annotated[
        list[Path] | None, typer.Option("--wheel", help="One wheel file; repeat.")
    ] = None,
    min_compatible: Annotated[
        str | None,
        typer.Option(
            "--min-compatible",
            help="Gateways running an older version must update to an intermediate release first.",
        ),
    ] = None,
    expires_in: Annotated[
        str,
        typer.Option(
            "--expires-in",
            help="How long gateways accept the release (90d, 12h; at most 366d). Afterwards it "
            "must be rebuilt: a stale release cannot be replayed.",
        ),
    ] = "90d",
    notes: Annotated[str | None, typer.Option("--notes", help="Release notes (signed).")] = None,
    passphrase_prompt: PromptOpt = False,
) -> None:
    """Build a signed agent release: the wheels copied into --out with manifest.json (version,
    hashes, sizes, expiry) and manifest.sig. Each file is served and downloaded on its own.

    An encrypted --key is opened with KENDALI_RELEASE_PASSPHRASE or, with --passphrase-prompt,
    a passphrase typed on the terminal; a missing or wrong one exits 2 and signs nothing."""
    from pydantic import ValidationError

    from common.release import BuildError, build_release

    files = _wheels(wheels, wheel)
    _version(version, "--version")
    _version(min_compatible, "--min-compatible")
    lifetime = _duration(expires_in, "--expires-in")
    if not datetime.timedelta(0) < lifetime <= MAX_EXPIRY:
        fail(f"--expires-in {expires_in}: give more than 0 and at most 366d", 2)
    private = _private(key, passphrase_prompt)
    try:
        manifest = build_release(
            files, private, version, out, now=_now(), expires_in=lifetime,
            min_compatible_version=min_compatible, notes=notes,
        )  # fmt: skip
    except ValidationError as exc:
        fail(f"the manifest would be invalid: {_short(exc)}", 2)
    except BuildError as exc:
        fail(exc, 2)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}", 1)
    total = sum(entry.size for entry in manifest.files)
    typer.echo(
        f"built {manifest.product} {manifest.version} in {out}: {len(manifest.files)} files, "
        f"{total} bytes, signed by {manifest.key_id}, expires {manifest.expires_at.isoformat()}"
    )


def _trust(path: Path) -> TrustStore:
    from common.release import KeyFileError, TrustError, TrustStore

    try:
        return TrustStore.load(path)
    except (TrustError, KeyFileError) as exc:
        fail(f"--trust {path}: {getattr(exc, 'message', exc)}", 2)


@app.command()
def verify(
    artifact_dir: Annotated[Path, typer.Argument(help="The release directory (from build).")],
    trust: Annotated[
        Path,
        typer.Option(
            "--trust",
            help="The trust file gateways pin (trust.json, or a directory holding it), or one "
            "public key (.pub).",
        ),
    ],
    installed: Annotated[
        str | None,
        typer.Option("--installed", help="Check as a gateway running this version would."),
    ] = None,
    allow_downgrade: Annotated[
        bool,
        typer.Option(
            "--allow-downgrade", help="Accept an older version (an operator's explicit rollback)."
        ),
    ] = False,
) -> None:
    """Check a release exactly as a gateway does; exit 0 when accepted, 1 when refused (the
    reason code and why)."""
    from common.release import ReleaseRefused, verify_release_dir
    from common.text import escape_controls

    if not artifact_dir.is_dir():
        fail(f"{artifact_dir} is not a directory; give the directory `release build` made", 2)
    store = _trust(trust)
    _version(installed, "--installed")
    try:
        manifest = verify_release_dir(
            artifact_dir, store, _now(), installed, allow_downgrade=allow_downgrade
        )
    except ReleaseRefused as exc:
        typer.echo(f"REFUSED {exc.reason_code}: {escape_controls(exc.message)}")
        raise typer.Exit(1) from None
    typer.echo(
        f"ACCEPTED {manifest.product} {manifest.version}: {len(manifest.files)} files match, "
        f"signed by {manifest.key_id}, expires {manifest.expires_at.isoformat()}"
    )


@trust_app.command("export")
def trust_export(
    key: Annotated[
        list[Path],
        typer.Option("--key", help="A public key gateways pin (release-key.pub); repeat."),
    ],
    out: Annotated[Path, typer.Option("--out", help="The trust file to write (trust.json).")],
    rotation: Annotated[
        list[Path] | None,
        typer.Option("--rotation", help="A rotation statement (rotation.json); repeat."),
    ] = None,
) -> None:
    """Write the trust file gateways pin: the given public keys and every rotation statement,
    checked to chain from them and written in chain order."""
    from pydantic import ValidationError

    from common.release import KeyFileError, SignedRotation, TrustStore, keys

    try:
        store = TrustStore([keys.load_public(path) for path in key])
    except KeyFileError as exc:
        fail(exc, 2)
    pending: list[tuple[Path, SignedRotation]] = []
    for path in rotation or []:
        try:
            pending.append((path, SignedRotation.model_validate_json(path.read_bytes())))
        except (OSError, ValidationError) as exc:
            fail(f"{path} is not a readable rotation statement: {_short(exc)}", 2)
    _chain(store, pending)
    try:
        out.write_bytes(store.to_json())
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}", 2)
    typer.echo(f"wrote {out}: trusts {', '.join(store.key_ids)}")


def _chain(store: TrustStore, pending: list[tuple[Path, SignedRotation]]) -> None:
    """Apply statements in whatever order they were given, each once its signer is trusted."""
    from common.release import TrustError

    while pending:
        progressed = False
        for item in list(pending):
            path, statement = item
            if store.key(statement.statement.old_key_id) is None:
                continue
            try:
                store.apply(statement)
            except TrustError as exc:
                fail(f"{path}: {exc.message}", 2)
            pending.remove(item)
            progressed = True
        if not progressed:
            path, statement = pending[0]
            fail(
                f"{path}: signed by {statement.statement.old_key_id}, which no given key or "
                "rotation reaches (add its public key with --key or the statement before it)",
                2,
            )


def _short(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        return f"{where}: {msg}" if where else msg
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    return str(exc)
