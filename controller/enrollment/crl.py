"""The revocation list the broker reads, written by the controller.

Mosquitto fails *open* on a bad CRL at reload: a missing, half-written or unreadable file only
logs an error, and revoked certificates are then accepted. So the order is strict: build the
CRL, write it to a temporary file beside the target, read it back and check its signature, set
a mode the broker's user can read, rename it over the old one, and only then run the reload
command. A failure anywhere before the rename leaves the old, good CRL in place and runs
nothing. An expired CRL makes the broker refuse every client, so :func:`needs_rewrite` also
says when the list on disk is close to its ``next_update``.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from common import pki

log = logging.getLogger(__name__)

CRL_MODE = 0o644  # public data; the broker runs as its own user
RELOAD_TIMEOUT_S = 30.0


class CrlError(RuntimeError):
    """The CRL could not be written or the broker not told; the old CRL stays."""


@dataclass(frozen=True)
class Revoked:
    serial: int
    at: datetime.datetime


def _utc(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC)


def from_rows(rows: Iterable[tuple[str, float]]) -> list[Revoked]:
    """(hex serial, revoked_at) rows of the controller's store."""
    return [Revoked(int(serial, 16), _utc(at)) for serial, at in rows]


def from_ca_index(index: Path | None) -> list[Revoked]:
    """Revocations made with ``kendali ca revoke`` in the CA folder (its issued.json), so one
    CRL carries both registers; a missing index is an empty one."""
    if index is None or not index.exists():
        return []
    try:
        entries = json.loads(index.read_text())
        return [
            Revoked(int(e["serial"]), datetime.datetime.fromisoformat(e["revoked_at"]))
            for e in entries.values()
            if e.get("revoked_at")
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CrlError(f"{index}: unreadable CA register ({type(exc).__name__})") from exc


def read(path: Path) -> x509.CertificateRevocationList | None:
    try:
        return x509.load_pem_x509_crl(path.read_bytes())
    except (OSError, ValueError):
        return None


def needs_rewrite(
    path: Path,
    ca: pki.Issued,
    revoked: Sequence[Revoked],
    *,
    resign_before: datetime.timedelta,
    now: datetime.datetime,
) -> str | None:
    """Why the CRL on disk must be written again, or None: unreadable, not ours, close to its
    ``next_update``, or missing a serial that is revoked."""
    current = read(path)
    if current is None:
        return "missing or unreadable"
    if current.issuer != ca.cert.subject or not current.is_signature_valid(
        ca.cert.public_key()  # type: ignore[arg-type]
    ):
        return "not signed by the fleet CA"
    next_update = current.next_update_utc
    if next_update is None or next_update - now < resign_before:
        return "close to its next update"
    listed = {entry.serial_number for entry in current}
    missing = {r.serial for r in revoked} - listed
    if missing:
        return f"{len(missing)} revoked serial(s) not listed"
    return None


def write(path: Path, ca: pki.Issued, revoked: Sequence[Revoked], *, days: float) -> None:
    """Sign and put the CRL in place atomically, checked before it replaces the old one."""
    unique = {r.serial: r for r in revoked}
    crl = pki.crl(ca, [(r.serial, r.at) for r in unique.values()], days=days)
    data = crl.public_bytes(serialization.Encoding.PEM)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, CRL_MODE)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, CRL_MODE)  # whatever the umask said
        check = x509.load_pem_x509_crl(tmp.read_bytes())
        if not check.is_signature_valid(ca.cert.public_key()):  # type: ignore[arg-type]
            raise CrlError("the CRL just written does not verify")
        if path.exists() and os.geteuid() == 0:  # keep the owner the admin gave the file
            st = path.stat()
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CrlError(f"cannot write the CRL {path}: {exc.strerror or exc}") from exc
    log.info("CRL written: %s (%d revoked, valid %.0f days)", path, len(unique), days)


def reload_broker(command: Sequence[str]) -> bool:
    """Run the configured reload; False (logged) when there is none or it failed. Never
    called unless a good CRL is in place."""
    if not command:
        return False
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=RELOAD_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("broker reload %s failed: %s", command[0], exc)
        return False
    if done.returncode != 0:
        log.error(
            "broker reload %s exited %d: %s",
            command[0],
            done.returncode,
            " ".join(done.stderr.split())[:300],
        )
        return False
    log.info("broker told to re-read its CRL (%s)", " ".join(command))
    return True
