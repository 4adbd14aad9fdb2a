"""Release keys encrypted at rest (subprocesses, as an operator runs them): a key made with
KENDALI_RELEASE_PASSPHRASE is an owner-only ENCRYPTED PRIVATE KEY that builds and rotates with
the same passphrase and whose release verifies; a missing or wrong passphrase exits 2 with one
line that never holds it; typed on a real pseudo-terminal it is not echoed; unencrypted keys
keep working."""

from __future__ import annotations

import os
import select
import stat
import subprocess
import time
from pathlib import Path

from tests.helpers import KENDALI
from tests.release.conftest import fake_wheel

ENV = "KENDALI_RELEASE_PASSPHRASE"
SECRET = "correct-horse 7 battery"


def kendali(
    *args: object, cwd: Path, passphrase: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if passphrase is not None:
        env[ENV] = passphrase
    return subprocess.run(
        [*KENDALI, "release", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def ok(*args: object, cwd: Path, passphrase: str | None = None) -> str:
    result = kendali(*args, cwd=cwd, passphrase=passphrase)
    assert result.returncode == 0, result.stderr + result.stdout
    assert SECRET not in result.stdout + result.stderr
    return result.stdout


def refused(*args: object, cwd: Path, passphrase: str | None = None) -> str:
    result = kendali(*args, cwd=cwd, passphrase=passphrase)
    assert result.returncode == 2, result.stderr + result.stdout
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for secret in (SECRET, passphrase or SECRET):
        assert secret not in result.stdout + result.stderr
    return result.stderr


def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    fake_wheel(folder, "kendali", "1.4.0")
    return folder


def encrypted(pem: Path) -> bool:
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem.read_bytes()


def test_an_encrypted_key_signs_and_rotates_with_its_passphrase(tmp_path: Path) -> None:
    w = wheels(tmp_path)
    out = ok("keygen", "--out", "k1", cwd=tmp_path, passphrase=SECRET)
    assert "encrypted with the passphrase" in out
    assert encrypted(tmp_path / "k1" / "release-key.pem")
    assert b"BEGIN PRIVATE KEY" not in (tmp_path / "k1" / "release-key.pem").read_bytes()

    ok("build", "--version", "1.4.0", "--key", "k1", "--wheels", w, "--out", "r1", cwd=tmp_path,
       passphrase=SECRET)  # fmt: skip
    ok("trust", "export", "--key", "k1/release-key.pub", "--out", "trust.json", cwd=tmp_path)
    assert ok("verify", "r1", "--trust", "trust.json", cwd=tmp_path).startswith(
        "ACCEPTED kendali-agent 1.4.0"
    )

    # rotation opens the old key and encrypts the new one with the same passphrase
    ok("rotate", "--old-key", "k1", "--out", "k2", cwd=tmp_path, passphrase=SECRET)
    assert encrypted(tmp_path / "k2" / "release-key.pem")
    ok("build", "--version", "1.5.0", "--key", "k2", "--wheels", w, "--out", "r2", cwd=tmp_path,
       passphrase=SECRET)  # fmt: skip
    ok("trust", "export", "--key", "k1/release-key.pub", "--rotation", "k2/rotation.json",
       "--out", "trust2.json", cwd=tmp_path)  # fmt: skip
    assert ok("verify", "r2", "--trust", "trust2.json", cwd=tmp_path).startswith("ACCEPTED")


def test_a_missing_or_wrong_passphrase_exits_2_and_signs_nothing(tmp_path: Path) -> None:
    w = wheels(tmp_path)
    ok("keygen", "--out", "k", cwd=tmp_path, passphrase=SECRET)
    build = ("build", "--version", "1.0", "--key", "k", "--wheels", w, "--out", "r")
    err = refused(*build, cwd=tmp_path)
    assert "is encrypted with a passphrase: set KENDALI_RELEASE_PASSPHRASE" in err
    assert "--passphrase-prompt" in err
    err = refused(*build, cwd=tmp_path, passphrase="not the passphrase")
    assert "the passphrase in KENDALI_RELEASE_PASSPHRASE does not open it" in err
    assert "nothing was signed" in err
    err = refused("rotate", "--old-key", "k", "--out", "k2", cwd=tmp_path, passphrase="nope")
    assert "does not open it" in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "k2").exists()
    err = refused(*build, "--passphrase-prompt", cwd=tmp_path)
    assert "needs a terminal" in err and ENV in err
    err = refused("keygen", "--out", "k3", "--passphrase-prompt", "--no-passphrase", cwd=tmp_path)
    assert "contradict" in err
    assert "set but empty" in refused("keygen", "--out", "k3", cwd=tmp_path, passphrase="")
    assert not (tmp_path / "k3").exists()


def test_unencrypted_keys_keep_working_and_say_so(tmp_path: Path) -> None:
    w = wheels(tmp_path)
    out = ok("keygen", "--out", "plain", cwd=tmp_path)
    assert "NOT encrypted" in out and not encrypted(tmp_path / "plain" / "release-key.pem")
    out = ok("keygen", "--out", "plain2", "--no-passphrase", cwd=tmp_path, passphrase=SECRET)
    assert "NOT encrypted" in out and not encrypted(tmp_path / "plain2" / "release-key.pem")
    # a passphrase in the environment does not stop an unencrypted key from signing
    ok("build", "--version", "1.0", "--key", "plain", "--wheels", w, "--out", "r", cwd=tmp_path,
       passphrase=SECRET)  # fmt: skip
    ok("trust", "export", "--key", "plain/release-key.pub", "--out", "trust.json", cwd=tmp_path)
    assert ok("verify", "r", "--trust", "trust.json", cwd=tmp_path).startswith("ACCEPTED")


def at_terminal(args: list[str], answers: list[str], cwd: Path) -> tuple[int, str, bytes]:
    """Run with stdin on a pseudo-terminal (its own session, so no other terminal is used),
    typing each answer only once its prompt is shown; returns the exit code, stdout and what
    the terminal showed back (its echo)."""
    leader, follower = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != ENV}
    proc = subprocess.Popen(
        [*KENDALI, "release", *args], cwd=cwd, env=env, stdin=follower, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    assert proc.stderr is not None
    shown, echoed = b"", b""
    try:
        for n, answer in enumerate(answers, 1):
            deadline = time.monotonic() + 60
            while shown.count(b": ") < n:
                assert time.monotonic() < deadline, f"no prompt {n}: {shown!r}"
                ready, _, _ = select.select([proc.stderr], [], [], 1.0)
                if ready:
                    chunk = os.read(proc.stderr.fileno(), 4096)
                    assert chunk, f"ended before prompt {n}: {shown!r}"
                    shown += chunk
            os.write(leader, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=60)
        while select.select([leader], [], [], 0)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            echoed += chunk
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert SECRET.encode() not in shown + err
    return proc.returncode, out.decode(), echoed


def test_a_passphrase_typed_at_the_terminal_is_not_echoed(tmp_path: Path) -> None:
    w = wheels(tmp_path)
    code, out, echoed = at_terminal(["keygen", "--out", "k", "--passphrase-prompt"],
                                    [SECRET, SECRET], tmp_path)  # fmt: skip
    assert code == 0 and "encrypted with the passphrase" in out
    assert SECRET.encode() not in echoed
    assert encrypted(tmp_path / "k" / "release-key.pem")
    build = ["build", "--version", "1.0", "--key", "k", "--wheels", str(w), "--out", "r"]
    code, out, echoed = at_terminal([*build, "--passphrase-prompt"], [SECRET], tmp_path)
    assert code == 0 and out.startswith("built kendali-agent 1.0")
    assert SECRET.encode() not in echoed
    ok("trust", "export", "--key", "k/release-key.pub", "--out", "trust.json", cwd=tmp_path)
    assert ok("verify", "r", "--trust", "trust.json", cwd=tmp_path).startswith("ACCEPTED")
    # the same key with a wrong passphrase from the environment
    err = refused("build", "--version", "1.0", "--key", "k", "--wheels", w, "--out", "r2",
                  cwd=tmp_path, passphrase="Tr0ub4dor&3")  # fmt: skip
    assert "does not open it" in err
