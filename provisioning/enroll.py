"""``kendali provision enroll`` on the gateway: a key made here (it never leaves), a certificate
request, the controller's answer written owner-only, the agent's bootstrap configuration and
its systemd unit.

What lands where (``conf_dir`` default /etc/kendali, ``state_dir`` default /var/lib/kendali):

```
conf_dir/agent.yaml           the agent's bootstrap configuration          0600
conf_dir/release-trust.json   the fleet's release keys, when the controller  0644
                              hands them out (public; root keeps it: the
                              agent must not rewrite its own trust)
state_dir/tls/gateway.key     the private key, made on this device         0600
state_dir/tls/gateway.crt     its certificate + the intermediate           0600
state_dir/tls/ca.pem          the fleet chain: trust for the broker        0600
state_dir/tls/controller-ca.pem  trust for an HTTPS controller (--ca-file) 0600
systemd_dir/kendali-agent.service  the unit, with these paths filled in
systemd_dir/kendali-agent.service.d/launcher.conf  the self-update launcher, the same paths
```

The credentials live in the state directory because the agent rewrites them when it renews its
certificate, and the unit's sandbox (``ProtectSystem=strict``) leaves only the state directory
writable. Directories this creates are 0700. Nothing is written unless the controller accepted
the request, and an existing identity is never overwritten without ``force``.

A full disk must never leave a gateway that looks enrolled and is not (a key without its
certificate, a cut agent.yaml). So every folder is tried with a small write *before* the token
is sent (a disk that is already full costs no token), and the answer's files are all written
to temporary names first and renamed into place only once every one of them was written
(agent.yaml last); a failure removes the temporaries and says that the token is spent.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from common import csr as csrlib
from common.enroll_client import post_json
from common.files import StagedFiles, write_temp
from common.release import KeyFileError, TrustError, TrustStore
from protocol.enrollment import ENROLL_PATH, EnrollRequest, Issued

UNIT_NAME = "kendali-agent.service"
UNIT_TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "systemd" / UNIT_NAME
DROP_IN = Path(f"{UNIT_NAME}.d") / "launcher.conf"
DROP_IN_TEMPLATE = UNIT_TEMPLATE.parent / DROP_IN
TRUST_NAME = "release-trust.json"
Post = Callable[..., dict[str, Any]]
# What enrollment writes is a few KiB; the check before the token is sent asks for a margin
# over that (file system blocks, the agent's first outbox pages).
SPACE_CHECK_BYTES = 256 * 1024


class EnrollError(RuntimeError):
    """Enrollment cannot go on as asked (an identity exists, a file cannot be written)."""


@dataclass(frozen=True)
class Layout:
    conf_dir: Path
    state_dir: Path

    @property
    def agent_yaml(self) -> Path:
        return self.conf_dir / "agent.yaml"

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def key(self) -> Path:
        return self.tls_dir / "gateway.key"

    @property
    def cert(self) -> Path:
        return self.tls_dir / "gateway.crt"

    @property
    def chain(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def controller_ca(self) -> Path:
        return self.tls_dir / "controller-ca.pem"

    @property
    def release_trust(self) -> Path:
        return self.conf_dir / TRUST_NAME

    @property
    def update_dir(self) -> Path:
        return self.state_dir / "update"

    def identity_files(self) -> list[Path]:
        return [p for p in (self.agent_yaml, self.key, self.cert) if p.exists()]


@dataclass
class Plan:
    controller: str
    token: str
    layout: Layout
    hostname: str | None = None
    ca_file: Path | None = None
    systemd_dir: Path | None = None
    force: bool = False
    service_user: str = "kendali"
    timeout_s: float = 30.0


@dataclass
class Result:
    issued: Issued
    written: list[Path] = field(default_factory=list)
    unit: Path | None = None
    drop_in: Path | None = None
    trust: Path | None = None


def enroll(plan: Plan, post: Post = post_json) -> Result:
    """Run the whole exchange; raises :class:`EnrollError`, or the client's ``Refused`` /
    ``Unreachable`` for the controller's answer."""
    existing = plan.layout.identity_files()
    if existing and not plan.force:
        raise EnrollError(
            f"this gateway already has an identity ({', '.join(map(str, existing))}); "
            "revoke the old one at the controller and run again with --force to replace it"
        )
    created = prepare_folders(plan)  # before the token is sent: a full disk costs no token
    try:
        key = csrlib.new_key()
        request = EnrollRequest(
            token=plan.token.strip(),
            csr=csrlib.csr_pem(key, plan.hostname or "gateway"),
            hostname=plan.hostname,
        )
        reply = post(
            plan.controller.rstrip("/") + ENROLL_PATH,
            request.model_dump(exclude_none=True),
            ca_file=plan.ca_file,
            timeout_s=plan.timeout_s,
        )
        issued = Issued.model_validate(reply)
        _check_issued(issued, key)
        _check_trust(issued)
        return write_all(plan, issued, key, created)
    except BaseException:
        _remove_empty(created)
        raise


def _folders(plan: Plan) -> list[tuple[Path, int]]:
    layout = plan.layout
    folders = [(layout.conf_dir, 0o700), (layout.state_dir, 0o700), (layout.tls_dir, 0o700)]
    if plan.systemd_dir is not None:
        folders += [(plan.systemd_dir, 0o755), ((plan.systemd_dir / DROP_IN).parent, 0o755)]
    return folders


def prepare_folders(plan: Plan) -> list[Path]:
    """Make the folders (0700 for ours) and try a write of :data:`SPACE_CHECK_BYTES` on each
    file system they are on. Returns the folders it created; raises :class:`EnrollError`,
    having removed them again, when one cannot be written: nothing was sent."""
    created: list[Path] = []
    try:
        devices: set[int] = set()
        for folder, mode in _folders(plan):
            _mkdir(folder, created, mode)
            device = folder.stat().st_dev
            if device in devices:
                continue
            devices.add(device)
            probe = write_temp(folder / "space-check", bytes(SPACE_CHECK_BYTES), tag="enroll")
            probe.unlink()
    except OSError as exc:
        _remove_empty(created)
        where = Path(exc.filename) if exc.filename else folder
        raise EnrollError(
            f"cannot write in {folder}: {exc.strerror or exc}. Nothing was sent and the token "
            f"was not used: {_storage_advice(exc, where)}, then run the same command again"
        ) from exc
    return created


def _storage_advice(exc: OSError, where: Path) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"free at least {SPACE_CHECK_BYTES // 1024} KiB on the disk of {where} "
                f"(df -h {where.parent})")  # fmt: skip
    if exc.errno == errno.EROFS:
        return f"{where} is on a read-only file system: remount it read-write"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "run as root, or choose --dir, --state-dir and --systemd-dir"
    return f"check the disk of {where} (dmesg for I/O errors)"


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def write_all(plan: Plan, issued: Issued, key: Any, created: list[Path]) -> Result:
    """Stage every file of the answer, then put them all in place; on a storage error nothing
    is in place and :class:`EnrollError` says the certificate was issued and what to do."""
    staging = StagedFiles(tag="enroll")
    try:
        written = stage_identity(plan, issued, key, staging)
        trust = unit = drop_in = None
        if issued.release_trust:
            trust = staging.add(plan.layout.release_trust, issued.release_trust.encode(), 0o644)
        if plan.systemd_dir is not None:
            unit, drop_in = stage_unit(plan, staging), stage_drop_in(plan, staging)
        # agent.yaml, what makes a gateway look enrolled, goes into place last
        staging.add(plan.layout.agent_yaml, agent_yaml_text(plan, issued).encode())
        layout = plan.layout
        folders = [f for f in created if f in (layout.conf_dir, layout.state_dir, layout.tls_dir)]
        files = [tmp for tmp, target in staging.staged if target in written]
        _give_to(plan.service_user, [*folders, *files])
        staging.commit()
    except OSError as exc:
        staging.abort()
        where = staging.failed or plan.layout.state_dir
        raise EnrollError(_not_stored(issued, exc, where)) from exc
    except BaseException:
        staging.abort()
        raise
    return Result(issued, written, unit, drop_in, trust)


def _not_stored(issued: Issued, exc: OSError, where: Path) -> str:
    gid = issued.gateway_id
    return (
        f"the controller issued a certificate for {gid}, but this gateway could not store it: "
        f"{exc.strerror or exc} writing {where}. Nothing was written, so this gateway is not "
        f"enrolled; the token is used up and cannot be used again. What to do: "
        f"{_storage_advice(exc, where)}; then have the administrator run `kendali provision "
        f"revoke {gid}` and create a new token, and run this command again with that token"
    )


def _check_trust(issued: Issued) -> None:
    """A trust file the agent could not load would make every update fail: refuse it before
    anything is written."""
    if issued.release_trust is None:
        return
    data = issued.release_trust.encode()
    try:
        if b"PUBLIC KEY" not in data[:100]:
            TrustStore.from_json(data)
    except (TrustError, KeyFileError, ValueError) as exc:
        raise EnrollError(f"the controller's release trust file is not usable: {exc}") from exc


def _check_issued(issued: Issued, key: Any) -> None:
    """The certificate must be for our key: a confused or hostile answer is not written."""
    cert = x509.load_pem_x509_certificate(issued.certificate.encode())
    ours = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if ours != theirs or csrlib.common_name(cert) != issued.gateway_id:
        raise EnrollError("the controller's certificate is not for this device's key; not written")


def _mkdir(path: Path, created: list[Path], mode: int = 0o700) -> None:
    if not path.exists():
        if not path.parent.exists():
            _mkdir(path.parent, created, mode)
        path.mkdir(mode=mode)
        os.chmod(path, mode)  # whatever the umask said
        created.append(path)


def agent_config(issued: Issued, layout: Layout, controller_ca: Path | None) -> dict[str, Any]:
    renewal: dict[str, Any] = {"renew_url": issued.renew_url}
    if controller_ca is not None:
        renewal["ca_file"] = str(controller_ca)
    return {
        "gateway_id": issued.gateway_id,
        "broker": {
            "host": issued.broker.host,
            "port": issued.broker.port,
            "tls": {
                "ca_file": str(layout.chain),
                "cert_file": str(layout.cert),
                "key_file": str(layout.key),
            },
        },
        "outbox": {"path": str(layout.state_dir / "outbox.db")},
        "renewal": renewal,
    }


def stage_identity(plan: Plan, issued: Issued, key: Any, staging: StagedFiles) -> list[Path]:
    """The key, certificate and chain (and the controller's CA) staged owner-only; returns the
    identity files including agent.yaml, which :func:`write_all` stages last."""
    layout = plan.layout
    files = [layout.key, layout.cert, layout.chain, layout.agent_yaml]
    if plan.ca_file is not None:
        files.append(staging.add(layout.controller_ca, plan.ca_file.read_bytes()))
    staging.add(layout.key, csrlib.key_pem(key))
    staging.add(layout.cert, issued.certificate.encode())
    staging.add(layout.chain, issued.chain.encode())
    return files


def agent_yaml_text(plan: Plan, issued: Issued) -> str:
    layout = plan.layout
    controller_ca = layout.controller_ca if plan.ca_file is not None else None
    header = (
        f"# Written by `kendali provision enroll` for gateway {issued.gateway_id}"
        f"{' at site ' + issued.site if issued.site else ''}.\n"
        "# Cameras, sensors and the rest come from the controller (docs/enrollment.md).\n"
    )
    return header + yaml.safe_dump(agent_config(issued, layout, controller_ca), sort_keys=False)


def _give_to(user: str, paths: list[Path]) -> None:
    """Run as root, the files go to the agent's service user (the unit's User=), still
    owner-only; without that user (a test, a laptop) they stay the caller's."""
    if os.geteuid() != 0 or not user:
        return
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def unit_text(template: str, layout: Layout, kendali: str) -> str:
    text = re.sub(
        r"^ExecStart=.*$",
        f"ExecStart={kendali} agent --config {layout.agent_yaml}",
        template,
        flags=re.MULTILINE,
    )
    return re.sub(
        r"^WorkingDirectory=.*$", f"WorkingDirectory={layout.state_dir}", text, flags=re.MULTILINE
    )


def kendali_executable() -> str:
    beside = Path(sys.executable).with_name("kendali")  # the virtualenv this runs from
    if beside.exists():
        return str(beside)
    found = shutil.which("kendali")
    return str(Path(found).resolve()) if found else "/opt/kendali/.venv/bin/kendali"


def drop_in_text(template: str, layout: Layout, kendali: str) -> str:
    """The launcher drop-in with this gateway's paths: the launcher and the base install beside
    ``kendali``, the update directory in the state directory, the trust file and agent.yaml in
    the configuration directory."""
    venv_bin = Path(kendali).parent
    command = (
        f"ExecStart={venv_bin / 'kendali-launcher'} --update-dir {layout.update_dir} "
        f"--base {venv_bin.parent} --trust {layout.release_trust} -- agent --config "
        f"{layout.agent_yaml}"
    )
    return re.sub(r"^ExecStart=.+$", command, template, flags=re.MULTILINE)


def stage_drop_in(plan: Plan, staging: StagedFiles, template: Path = DROP_IN_TEMPLATE) -> Path:
    assert plan.systemd_dir is not None
    if not template.exists():
        raise EnrollError(f"the launcher drop-in {template} is missing from this installation")
    text = drop_in_text(template.read_text(), plan.layout, kendali_executable())
    return staging.add(plan.systemd_dir / DROP_IN, text.encode(), 0o644)


def stage_unit(plan: Plan, staging: StagedFiles, template: Path = UNIT_TEMPLATE) -> Path:
    assert plan.systemd_dir is not None
    if not template.exists():
        raise EnrollError(f"the unit template {template} is missing from this installation")
    text = unit_text(template.read_text(), plan.layout, kendali_executable())
    return staging.add(plan.systemd_dir / UNIT_NAME, text.encode(), 0o644)  # no secret inside
