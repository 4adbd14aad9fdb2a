"""The fleet CA on disk: what ``kendali ca init`` writes and ``kendali ca issue|revoke`` use.

```
DIR/root/root.key, root.crt   the root: move root/ offline after init (only the intermediate's
                              renewal needs it)
DIR/ca.key, ca.crt            the intermediate that signs every leaf and the CRL
DIR/chain.pem                 root + intermediate: the broker's cafile and every client's ca_file
DIR/fleet.crl                 the revocation list the broker reads (crlfile)
DIR/issued/NAME.crt, .key     leaves (certificate + intermediate; key owner-only)
DIR/issued.json               serial, usage and revocation of every leaf, for revoke and audit
DIR/mosquitto-kendali.conf    the broker's listener for these files, for /etc/mosquitto/conf.d/
```

Keys are created owner-only (0600) and never overwritten; ``init`` refuses a directory that
already holds a CA.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common import pki
from common.files import write_atomic

# The controller's broker identities (see deploy/mosquitto/kendali.acl).
CONTROLLER_IDENTITIES = ("kendali-controller", "kendali-controller-alerts")


class CaDirError(RuntimeError):
    """The directory cannot be used as asked (exists already, missing parts, unknown name)."""


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CaDirError(f"{path}: not an EC private key")
    return key


class CaDir:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def chain(self) -> Path:
        return self.folder / "chain.pem"

    @property
    def crl_file(self) -> Path:
        return self.folder / "fleet.crl"

    @property
    def _index(self) -> Path:
        return self.folder / "issued.json"

    def init(self, broker_names: Sequence[str]) -> list[Path]:
        """Root, intermediate, chain, an empty CRL, the broker's server certificate and the
        controller's identities. Returns the files written."""
        if (self.folder / "ca.key").exists():
            raise CaDirError(f"{self.folder} already holds a CA (ca.key); nothing was changed")
        (self.folder / "root").mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.folder / "issued").mkdir(exist_ok=True, mode=0o700)
        root = pki.root_ca()
        ca = pki.intermediate_ca(root)
        assert root.key is not None
        assert ca.key is not None
        _write_key(self.folder / "root" / "root.key", root.key)
        (self.folder / "root" / "root.crt").write_bytes(_pem(root.cert))
        _write_key(self.folder / "ca.key", ca.key)
        (self.folder / "ca.crt").write_bytes(_pem(ca.cert))
        self.chain.write_bytes(_pem(root.cert) + _pem(ca.cert))
        self._index.write_text("{}")
        self._write_crl(ca, {})
        written = [self.folder / "root" / "root.key", self.folder / "ca.key", self.chain]
        written += list(self.issue("broker", "server", broker_names))
        for identity in CONTROLLER_IDENTITIES:
            written += list(self.issue(identity, "client"))
        conf = self.folder / "mosquitto-kendali.conf"
        conf.write_text(self.broker_config())
        return [*written, self.crl_file, conf]

    def broker_config(
        self,
        *,
        port: int = 8883,
        host: str = "",
        acl_file: Path = Path("/etc/mosquitto/kendali.acl"),
        state_dir: Path | None = None,
    ) -> str:
        """The broker's TLS listener for this CA: a client certificate required, its CN as
        the user name and client id, the CRL checked, nobody anonymous; queue limits as in the
        shipped deploy/mosquitto/kendali.conf.

        Written for /etc/mosquitto/conf.d/ under Debian's main mosquitto.conf, which already
        sets ``persistence_location``: Mosquitto refuses to start on a second one, so it is
        written only when ``state_dir`` is given, for a broker run on this file alone."""
        listener = f"listener {port} {host}".rstrip()
        folder = self.folder.absolute()  # Mosquitto's working directory is not ours
        issued = folder / "issued"
        if state_dir is None:
            where = (
                "# The database's folder is the main mosquitto.conf's persistence_location\n"
                "# (Debian: /var/lib/mosquitto/); set it here only for a broker run on this file.\n"
            )
        else:
            where = f"persistence_location {state_dir}/\n"
        return (
            "# Generated by `kendali ca init` for this CA (docs/pki.md). For\n"
            "# /etc/mosquitto/conf.d/ under Debian's mosquitto.conf, which sets pid_file,\n"
            "# log_dest and persistence_location (a second one stops the broker).\n"
            "per_listener_settings false\nallow_anonymous false\n"
            f"{listener}\nprotocol mqtt\n"
            f"cafile {folder / self.chain.name}\ncertfile {issued / 'broker.crt'}\n"
            f"keyfile {issued / 'broker.key'}\ncrlfile {folder / self.crl_file.name}\n"
            "require_certificate true\nuse_identity_as_username true\n"
            "use_username_as_clientid true\ntls_version tlsv1.2\n"
            f"acl_file {acl_file}\n"
            f"persistence true\n{where}autosave_interval 30\n"
            "max_queued_messages 2000000\nmax_queued_bytes 536870912\n"
            "max_inflight_messages 1000\nset_tcp_nodelay true\nmax_packet_size 1048576\n"
            "max_keepalive 600\n"
        )

    def _ca(self) -> pki.Issued:
        try:
            key = _load_key(self.folder / "ca.key")
            cert = x509.load_pem_x509_certificate((self.folder / "ca.crt").read_bytes())
        except FileNotFoundError as exc:
            raise CaDirError(f"{self.folder}: no CA here (run kendali ca init)") from exc
        return pki.Issued(key, cert)

    def issued(self) -> dict[str, dict[str, Any]]:
        try:
            data: dict[str, dict[str, Any]] = json.loads(self._index.read_text())
        except FileNotFoundError as exc:
            raise CaDirError(f"{self.folder}: no CA here (run kendali ca init)") from exc
        return data

    def issue(
        self, name: str, usage: pki.Usage, names: Sequence[str] = (), days: float = 397
    ) -> tuple[Path, Path]:
        """A leaf with its key; refuses a name already issued and not revoked."""
        ca = self._ca()
        index = self.issued()
        if name in index and not index[name].get("revoked_at"):
            raise CaDirError(f"{name!r} has a certificate already; revoke it first")
        leaf = pki.issue(ca, name, usage, names=names, days=days)
        assert leaf.key is not None
        cert_path = self.folder / "issued" / f"{name}.crt"
        key_path = self.folder / "issued" / f"{name}.key"
        key_path.unlink(missing_ok=True)  # a revoked predecessor's key
        _write_key(key_path, leaf.key)
        cert_path.write_bytes(_pem(leaf.cert) + _pem(ca.cert))
        index[name] = {
            "serial": leaf.cert.serial_number,
            "usage": usage,
            "not_after": leaf.cert.not_valid_after_utc.isoformat(),
            "revoked_at": None,
        }
        self._write_index(index)
        return cert_path, key_path

    def revoke(self, name: str) -> Path:
        """Add the name's certificate to the CRL (the broker refuses it at its next handshake
        once it re-reads the CRL: SIGHUP)."""
        index = self.issued()
        if name not in index:
            raise CaDirError(f"{name!r}: no certificate of that name was issued here")
        if not index[name].get("revoked_at"):
            index[name]["revoked_at"] = datetime.datetime.now(datetime.UTC).isoformat()
            try:
                self._write_index(index)
            except OSError as exc:
                raise CaDirError(
                    f"cannot record the revocation in {self._index}: {exc.strerror or exc}; "
                    f"nothing changed (the old register and CRL stay). Free space on that disk "
                    f"and run the same command again"
                ) from exc
        try:
            self._write_crl(self._ca(), index)
        except OSError as exc:
            raise CaDirError(
                f"{name} is recorded as revoked, but the CRL {self.crl_file} could not be "
                f"written: {exc.strerror or exc}. The old CRL stays in place (the broker still "
                f"accepts {name}); free space on that disk and run the same command again"
            ) from exc
        return self.crl_file

    def _write_index(self, index: dict[str, dict[str, Any]]) -> None:
        """The register is replaced whole (written aside, then renamed): a full disk must not
        leave it cut, which would lose every issued serial from the next CRL."""
        try:
            mode = stat.S_IMODE(self._index.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644
        data = json.dumps(index, indent=1, sort_keys=True).encode()
        write_atomic(self._index, data, mode)

    def _write_crl(self, ca: pki.Issued, index: dict[str, dict[str, Any]]) -> None:
        revoked = [
            (int(entry["serial"]), datetime.datetime.fromisoformat(entry["revoked_at"]))
            for entry in index.values()
            if entry.get("revoked_at")
        ]
        crl = pki.crl(ca, revoked)
        # Public (the broker reads it as its own user), and never half-written: written aside
        # and renamed, so a full disk leaves the old CRL (Mosquitto would fail open on a bad one).
        write_atomic(self.crl_file, crl.public_bytes(serialization.Encoding.PEM), 0o644)
