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
"""

from __future__ import annotations

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
from common.files import write_private
from common.release import KeyFileError, TrustError, TrustStore
from protocol.enrollment import ENROLL_PATH, EnrollRequest, Issued

UNIT_NAME = "kendali-agent.service"
UNIT_TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "systemd" / UNIT_NAME
DROP_IN = Path(f"{UNIT_NAME}.d") / "launcher.conf"
DROP_IN_TEMPLATE = UNIT_TEMPLATE.parent / DROP_IN
TRUST_NAME = "release-trust.json"
Post = Callable[..., dict[str, Any]]


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
    written = write_identity(plan, issued, key)
    trust = write_trust(plan.layout, issued.release_trust) if issued.release_trust else None
    unit = drop_in = None
    if plan.systemd_dir is not None:
        unit, drop_in = install_unit(plan), install_drop_in(plan)
    return Result(issued, written, unit, drop_in, trust)


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


def write_trust(layout: Layout, text: str) -> Path:
    """The release keys, 0644: public, read by the agent's user, written by root only (not
    handed to the service user like the identity), so the agent cannot change what it trusts."""
    target = layout.release_trust
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{TRUST_NAME}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(target)
    return target


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


def _mkdir(path: Path, created: list[Path]) -> None:
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        os.chmod(path, 0o700)  # whatever the umask said
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


def write_identity(plan: Plan, issued: Issued, key: Any) -> list[Path]:
    layout = plan.layout
    dirs: list[Path] = []
    for folder in (layout.conf_dir, layout.state_dir, layout.tls_dir):
        _mkdir(folder, dirs)
    controller_ca = None
    if plan.ca_file is not None:
        controller_ca = layout.controller_ca
        write_private(controller_ca, plan.ca_file.read_bytes())
    write_private(layout.key, csrlib.key_pem(key))
    write_private(layout.cert, issued.certificate.encode())
    write_private(layout.chain, issued.chain.encode())
    header = (
        f"# Written by `kendali provision enroll` for gateway {issued.gateway_id}"
        f"{' at site ' + issued.site if issued.site else ''}.\n"
        "# Cameras, sensors and the rest come from the controller (docs/enrollment.md).\n"
    )
    body = yaml.safe_dump(agent_config(issued, layout, controller_ca), sort_keys=False)
    write_private(layout.agent_yaml, (header + body).encode())
    files = [layout.key, layout.cert, layout.chain, layout.agent_yaml]
    files += [controller_ca] if controller_ca is not None else []
    _give_to(plan.service_user, [*dirs, *files])
    return files


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


def install_drop_in(plan: Plan, template: Path = DROP_IN_TEMPLATE) -> Path:
    assert plan.systemd_dir is not None
    if not template.exists():
        raise EnrollError(f"the launcher drop-in {template} is missing from this installation")
    target = plan.systemd_dir / DROP_IN
    target.parent.mkdir(parents=True, exist_ok=True)
    text = drop_in_text(template.read_text(), plan.layout, kendali_executable())
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    tmp.replace(target)
    return target


def install_unit(plan: Plan, template: Path = UNIT_TEMPLATE) -> Path:
    assert plan.systemd_dir is not None
    if not template.exists():
        raise EnrollError(f"the unit template {template} is missing from this installation")
    plan.systemd_dir.mkdir(parents=True, exist_ok=True)
    target = plan.systemd_dir / UNIT_NAME
    text = unit_text(template.read_text(), plan.layout, kendali_executable())
    tmp = target.with_name(f".{UNIT_NAME}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)  # systemd reads units as any user; no secret inside
    tmp.replace(target)
    return target
