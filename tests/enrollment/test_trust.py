"""The fleet's release trust file through enrollment: a controller with
``enrollment.release_trust_file`` hands it out in its answer and ``kendali provision enroll``
writes it 0644 (public keys, read by the agent's user; the agent must not be able to rewrite
it), beside the unit and its launcher drop-in; without one nothing is written, and a trust file
that does not load is never handed out or written."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from common.release import TrustStore, keys
from provisioning.enroll import EnrollError, Layout, Plan, enroll
from tests.enrollment.conftest import Setup


def trust_file(folder: Path) -> Path:
    path = folder / "trust.json"
    path.write_bytes(TrustStore([keys.new_key().public_key()]).to_json())
    return path


def offer(setup: Setup, path: Path | None) -> None:
    settings = setup.service.settings.model_copy(update={"release_trust_file": path})
    setup.service.settings = settings


def plan(setup: Setup, tmp: Path, name: str) -> Plan:
    token = setup.token(gateway_id=name)["token"]
    layout = Layout(tmp / name / "etc", tmp / name / "state")
    return Plan("http://controller.test", token, layout, systemd_dir=tmp / name / "systemd")


def post(setup: Setup, mangle: Any = None) -> Any:
    def send(url: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        r = setup.client.post(url, json=body)
        assert r.status_code == 200, r.text
        reply = dict(r.json())
        return mangle(reply) if mangle else reply

    return send


def test_offered_trust_is_written_0644_beside_unit_and_drop_in(
    setup: Setup, tmp_path: Path
) -> None:
    source = trust_file(tmp_path)
    offer(setup, source)
    p = plan(setup, tmp_path, "gw-trust")
    result = enroll(p, post(setup))
    layout = p.layout
    assert result.trust == layout.release_trust == layout.conf_dir / "release-trust.json"
    assert layout.release_trust.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(layout.release_trust.stat().st_mode) == 0o644
    TrustStore.load(layout.release_trust)  # what the agent loads
    assert stat.S_IMODE(layout.key.stat().st_mode) == 0o600  # the identity stays owner-only

    assert result.drop_in is not None and result.unit is not None
    text = result.drop_in.read_text()
    assert result.drop_in == p.systemd_dir / "kendali-agent.service.d" / "launcher.conf"
    lines = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert lines[0] == "ExecStart="
    command = lines[1].removeprefix("ExecStart=").split()
    assert command[0].endswith("/bin/kendali-launcher")
    assert command[command.index("--update-dir") + 1] == str(layout.state_dir / "update")
    assert command[command.index("--trust") + 1] == str(layout.release_trust)
    assert command[command.index("--base") + 1] == str(Path(command[0]).parents[1])
    assert command[-4:] == ["--", "agent", "--config", str(layout.agent_yaml)]
    assert "NotifyAccess=all" in text


def test_no_trust_offered_none_written(setup: Setup, tmp_path: Path) -> None:
    offer(setup, None)
    p = plan(setup, tmp_path, "gw-plain")
    result = enroll(p, post(setup))
    assert result.issued.release_trust is None and result.trust is None
    assert not p.layout.release_trust.exists()
    assert result.drop_in is not None and result.drop_in.exists()


def test_a_trust_file_that_does_not_load_is_not_handed_out(setup: Setup, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"pinned": "nope"}')
    offer(setup, broken)
    p = plan(setup, tmp_path, "gw-broken")
    result = enroll(p, post(setup))  # enrollment itself still works
    assert result.trust is None and not p.layout.release_trust.exists()


def test_a_bad_trust_in_the_answer_writes_nothing(setup: Setup, tmp_path: Path) -> None:
    offer(setup, trust_file(tmp_path))
    p = plan(setup, tmp_path, "gw-mangled")
    mangled = post(setup, lambda reply: {**reply, "release_trust": '{"pinned": 1}'})
    with pytest.raises(EnrollError, match="release trust file is not usable"):
        enroll(p, mangled)
    assert not p.layout.release_trust.exists() and not p.layout.key.exists()
