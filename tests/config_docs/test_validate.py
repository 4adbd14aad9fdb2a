"""``kendali config validate`` and ``kendali agent --check``: ok with a summary and exit 0, or
every problem on its own line with the field's path and exit 2; nothing started or created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kendali_cli.main import app
from tests.helpers import write_yaml

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Cam-Secret-77"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _agent(tmp: Path, **extra: Any) -> Path:
    cfg: dict[str, Any] = {"gateway_id": "gw-01", "outbox": {"path": str(tmp / "o" / "out.db")}}
    cfg.update(extra)
    return write_yaml(tmp / "agent.yaml", cfg)


def _camera(**fields: Any) -> dict[str, Any]:
    return {"id": "cam1", "host": "10.0.0.5", **fields}


def test_validate_prints_ok_and_a_summary() -> None:
    code, out, _ = _invoke("config", "validate", str(ROOT / "deploy/examples/agent-cameras.yaml"))
    assert code == 0
    assert out.startswith("ok: ")
    assert "2 cameras (1 with motion, 2 zones)" in out and "with TLS" in out
    assert "replace-with" not in out
    code, out, _ = _invoke(
        "config", "validate", "--controller", str(ROOT / "deploy/examples/controller.yaml")
    )
    assert code == 0 and out.startswith("ok: ") and "controller" in out


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("camera user, no password", {"cameras": [_camera(username="admin")]},
     "cameras.0.password: required when username is set"),
    ("camera password, no user", {"cameras": [_camera(password=SECRET)]},
     "cameras.0.username: required when password is set"),
    ("rtsp user, no password", {"cameras": [{"id": "c", "rtsp_url": "rtsp://admin@10.0.0.5/"}]},
     "cameras.0.rtsp_url: names user 'admin' but no password"),
    ("broker user, no password", {"broker": {"username": "gw-01"}},
     "broker.password: required when username is set"),
    ("unknown profile", {"sensors": {"sensors": [{"id": "s", "profile": "nosuch", "port": "x"}]}},
     "sensors.sensors.0: no profile named 'nosuch'"),
    ("rule on a resource the profile lacks",
     {"sensors": {"sensors": [{"id": "s", "profile": "mcu_kv", "port": "x", "rules": {
         "thresholds": [{"resource": "level", "levels": [{"name": "a", "value": 1}]}]}}]}},
     "sensors.sensors.0: rules name unknown resources ['level']"),
    ("zone outside the frame", {"cameras": [_camera(motion={"zones": [
        {"name": "z", "polygon": [[0, 0], [1.5, 0], [1, 1]]}]})]},
     "cameras.0.motion.zones.0.polygon.1.0: Input should be less than or equal to 1"),
    ("tamper hysteresis", {"cameras": [_camera(tamper={"dark_luma": 50})]},
     "cameras.0.tamper.dark_luma: the clear threshold must lie on the healthy side"),
    ("unknown key", {"camras": []}, "camras: Extra inputs are not permitted"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "extra", "line"), INVALID, ids=[c[0] for c in INVALID])
def test_validate_names_the_field(
    case: str, extra: dict[str, Any], line: str, tmp_path: Path
) -> None:
    path = _agent(tmp_path, **extra)
    code, out, err = _invoke("config", "validate", str(path))
    assert code == 2, (case, out, err)
    assert out == ""
    assert err.startswith(f"error: {path}: invalid configuration\n")
    assert f"\n  {line}" in err, err
    assert SECRET not in err
    code, out, err2 = _invoke("agent", "--config", str(path), "--check")
    assert (code, err2) == (2, err)  # --check reports the same problems the same way


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = _agent(tmp_path, broker={"port": 0}, cameras=[_camera(username="admin"), {"id": "Bad!"}])
    code, _, err = _invoke("config", "validate", str(path))
    assert code == 2
    problems = [line.strip().split(":")[0] for line in err.splitlines()[1:]]
    assert problems == ["broker.port", "cameras.0.password", "cameras.1.id"]


@pytest.mark.parametrize(
    ("broker", "line"),
    [
        ({"username": "kendali-controller"}, "broker.password: required when username is set"),
        ({"password": SECRET}, "broker.username: required when password is set"),
    ],
)
def test_controller_credentials_are_complete(
    broker: dict[str, Any], line: str, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path / "controller.yaml", {"broker": broker})
    code, _, err = _invoke("config", "validate", "--controller", str(path))
    assert code == 2 and f"\n  {line}" in err
    assert SECRET not in err


def test_unreadable_or_not_yaml_is_one_line(tmp_path: Path) -> None:
    code, _, err = _invoke("config", "validate", str(tmp_path / "missing.yaml"))
    assert code == 2 and err.count("\n") == 1 and "cannot read" in err
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    code, _, err = _invoke("config", "validate", str(tmp_path / "list.yaml"))
    assert code == 2 and "top level must be a mapping" in err


def _pki(tmp: Path) -> dict[str, str]:
    files = {"ca_file": "ca.crt", "cert_file": "gw.crt", "key_file": "gw.key"}
    for name in files.values():
        (tmp / name).write_text("not checked here\n")
        (tmp / name).chmod(0o600)
    return {k: str(tmp / v) for k, v in files.items()}


def test_agent_check_starts_nothing_and_creates_nothing(tmp_path: Path) -> None:
    path = _agent(
        tmp_path,
        broker={"port": 8883, "tls": _pki(tmp_path)},
        cameras=[_camera(username="admin", password=SECRET)],
    )
    code, out, err = _invoke("agent", "--config", str(path), "--check")
    assert (code, err) == (0, "")
    assert out.startswith(f"ok: {path}: gateway gw-01, broker 127.0.0.1:8883 with TLS, 1 camera")
    assert not (tmp_path / "o").exists()  # no outbox, no lock


def test_agent_check_also_checks_the_gateways_files(tmp_path: Path) -> None:
    tls = _pki(tmp_path)
    tls["ca_file"] = str(tmp_path / "missing-ca.crt")
    path = _agent(tmp_path, broker={"tls": tls})
    code, _, err = _invoke("agent", "--config", str(path), "--check")
    assert code == 2 and err.startswith("error: broker.tls.ca_file") and "does not exist" in err
    # config validate checks the file alone: an example is checked away from its gateway
    assert _invoke("config", "validate", str(path))[0] == 0

    open_file = _agent(tmp_path, cameras=[_camera(username="admin", password=SECRET)])
    open_file.chmod(0o644)
    code, _, err = _invoke("agent", "--config", str(open_file), "--check")
    assert code == 2 and "chmod 600" in err
