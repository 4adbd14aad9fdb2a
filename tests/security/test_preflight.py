"""Preflight: every path setting checked before anything is created or renamed, secrets in files
only owner-readable, TLS files named when missing, database URLs spelled right, one instance
per state file. Each failure is one ``error:`` line with its fix and exit code 2."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.mosquitto import Broker
from common.preflight import (
    PreflightError,
    check_private,
    check_state_file,
    database_url_problem,
    hold_instance_lock,
)
from tests.helpers import KENDALI, agent_proc, write_yaml

ROOT = Path(__file__).resolve().parents[2]


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``folder`` with its type and inode: a rename or a new file shows."""
    out = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(folder))] = (stat.S_IFMT(st.st_mode), st.st_ino)
    return out


def _run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KENDALI, *args], capture_output=True, text=True, timeout=60, cwd=ROOT, **kw
    )


def _agent_yaml(folder: Path, **sections: Any) -> Path:
    cfg: dict[str, Any] = {"gateway_id": "gw-1", "outbox": {"path": str(folder / "outbox.db")}}
    cfg.update(sections)
    return write_yaml(folder / "agent.yaml", cfg)


def _assert_refused(out: subprocess.CompletedProcess[str], *words: str) -> None:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for word in words:
        assert word in out.stderr


# -- agent path settings ---------------------------------------------------------------------


def _bad_agent_paths(tmp: Path) -> list[tuple[dict[str, Any], str]]:
    """(config sections, the words the error must carry) for each path setting gone wrong."""
    (tmp / "adir").mkdir()
    (tmp / "afile").write_text("x")
    (tmp / "seqdir.db.seq").mkdir()
    (tmp / "ca.pem").write_text("ca")
    return [
        ({"outbox": {"path": str(tmp / "adir")}}, "is a directory"),
        ({"outbox": {"path": str(tmp / "afile" / "outbox.db")}}, "is a file, not a directory"),
        ({"outbox": {"path": str(tmp / "seqdir.db")}}, "seqdir.db.seq is a directory"),
        ({"broker": {"tls": {"ca_file": str(tmp / "adir")}}}, "broker.tls.ca_file"),
        ({"broker": {"tls": {"ca_file": str(tmp / "nope.pem")}}}, "nope.pem does not exist"),
        (
            {
                "broker": {
                    "tls": {
                        "ca_file": str(tmp / "ca.pem"),
                        "cert_file": str(tmp / "missing.crt"),
                        "key_file": str(tmp / "missing.key"),
                    }
                }
            },
            "broker.tls.cert_file",
        ),
    ]


def test_every_bad_agent_path_exits_2_and_nothing_is_renamed_or_created(tmp_path: Path) -> None:
    work = tmp_path / "state"
    work.mkdir()
    for sections, words in _bad_agent_paths(work):
        cfg = _agent_yaml(tmp_path, **sections)
        before = _listing(work)
        out = _run(["agent", "--config", str(cfg)])
        _assert_refused(out, words)
        assert _listing(work) == before, sections


# Root writes anywhere: its command runs without the capabilities that let it ignore modes.
# (A read-only mount, which this test used for root, no longer stops the agent: it runs from
# memory, see tests/faults/test_readonly_start.py.)
AS_PLAIN_ROOT = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
)


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot write (mode 0555; for root see AS_PLAIN_ROOT)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def test_unwritable_state_directory_is_refused_with_the_fix(
    tmp_path: Path, unwritable_dir: Path
) -> None:
    cfg = _agent_yaml(tmp_path, outbox={"path": str(unwritable_dir / "sub" / "outbox.db")})
    out = subprocess.run(
        [*AS_PLAIN_ROOT, *KENDALI, "agent", "--config", str(cfg)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip
    _assert_refused(out, f"directory {unwritable_dir} is not writable", "chown")
    assert list(unwritable_dir.iterdir()) == []


# -- secrets in files ------------------------------------------------------------------------


def test_config_with_a_password_open_to_others_is_refused_with_chmod(tmp_path: Path) -> None:
    cfg = _agent_yaml(tmp_path, broker={"password": "hunter2-pw"})
    cfg.chmod(0o640)
    out = _run(["agent", "--config", str(cfg)])
    _assert_refused(out, f"chmod 600 {cfg}", "mode 0640")
    assert "hunter2-pw" not in out.stderr
    assert not (tmp_path / "outbox.db").exists()


def test_private_key_open_to_others_is_refused(tmp_path: Path) -> None:
    for name in ("ca.pem", "gw.crt", "gw.key"):
        (tmp_path / name).write_text(name)
    (tmp_path / "gw.key").chmod(0o644)
    tls = {name: str(tmp_path / f) for name, f in
           (("ca_file", "ca.pem"), ("cert_file", "gw.crt"), ("key_file", "gw.key"))}  # fmt: skip
    out = _run(["agent", "--config", str(_agent_yaml(tmp_path, broker={"tls": tls}))])
    _assert_refused(out, "broker.tls.key_file", f"chmod 600 {tmp_path / 'gw.key'}")


def test_check_private_accepts_owner_only(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("k")
    key.chmod(0o600)
    check_private(key, "key")
    key.chmod(0o604)
    with pytest.raises(PreflightError, match="chmod 600"):
        check_private(key, "key")


# -- one instance ----------------------------------------------------------------------------


def test_second_agent_on_the_same_outbox_is_refused_naming_the_pid(
    broker: Broker, tmp_path: Path
) -> None:
    first = agent_proc(tmp_path, "gw-lock", broker.port)
    first.start(ready="connected to")
    try:
        assert first.popen is not None
        pid = first.popen.pid
        second = _run(["agent", "--config", str(tmp_path / "gw-lock.yaml")])
        _assert_refused(second, f"pid {pid}", "gw-lock-outbox.db")
        # Created by the running agent under its owner-only umask.
        outbox = tmp_path / "gw-lock-outbox.db"
        for made in (outbox, outbox.with_name(outbox.name + ".lock")):
            assert stat.S_IMODE(made.stat().st_mode) & 0o077 == 0, made
    finally:
        first.stop()
    again = agent_proc(tmp_path, "gw-lock", broker.port)
    again.start(ready="connected to")  # the lock went with the process
    again.stop()


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    state = tmp_path / "controller.db"
    lock = hold_instance_lock(state, "database.url")
    with pytest.raises(PreflightError, match=f"pid {os.getpid()}"):
        hold_instance_lock(state, "database.url")
    hold_instance_lock(tmp_path / "other.db", "database.url").release()  # another file: fine
    lock.release()
    hold_instance_lock(state, "database.url").release()


# -- controller and database URLs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgres://u:pw@127.0.0.1/db", "postgresql+psycopg://"),
        ("postgresql://u@127.0.0.1/db", "postgresql+psycopg://"),
        ("mysql://u@127.0.0.1/db", "unknown database driver"),
        ("not a url", "not a database URL"),
    ],
)
def test_bad_database_urls_are_configuration_errors(tmp_path: Path, url: str, words: str) -> None:
    cfg = write_yaml(tmp_path / "ctl.yaml", {"database": {"url": url}})
    out = _run(["controller", "--config", str(cfg)])
    assert out.returncode == 2 and words in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and ":pw@" not in out.stderr
    status = _run(["fleet", "status", "--db", url])
    assert status.returncode == 2 and words in status.stderr, status.stderr


def test_controller_sqlite_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "controller.db").mkdir()
    before = _listing(tmp_path)
    cfg = write_yaml(
        tmp_path / "ctl.yaml", {"database": {"url": f"sqlite:///{tmp_path / 'controller.db'}"}}
    )
    before = _listing(tmp_path)
    out = _run(["controller", "--config", str(cfg)])
    _assert_refused(out, "database.url", "is a directory")
    assert _listing(tmp_path) == before


def test_good_urls_pass() -> None:
    assert database_url_problem("sqlite:///var/controller.db") is None
    assert database_url_problem("postgresql+psycopg://k@127.0.0.1:5432/kendali") is None


def test_state_file_checks_create_nothing(tmp_path: Path) -> None:
    check_state_file(tmp_path / "new" / "deeper" / "outbox.db", "outbox.path")
    assert list(tmp_path.iterdir()) == []
