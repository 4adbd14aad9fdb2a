"""``kendali release`` end to end as an operator runs it (subprocesses): keygen, build, verify,
trust export, rotate, verify with the rotated key; wrong inputs give one clear line, exit 2."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from tests.helpers import KENDALI
from tests.release.conftest import fake_wheel


def kendali(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KENDALI, "release", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def ok(*args: object, cwd: Path) -> str:
    result = kendali(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_round_trip_keygen_build_verify_rotate(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(wheels, "kendali", "1.4.0", payload=b"y" * 5000)
    fake_wheel(wheels, "helperlib", "2.0")

    out = ok("keygen", "--out", "k1", cwd=tmp_path)
    key1 = tmp_path / "k1" / "release-key.pem"
    assert stat.S_IMODE(key1.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "k1").stat().st_mode) == 0o700
    kid1 = out.split("key id ")[1].split()[0]
    again = kendali("keygen", "--out", "k1", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr

    ok("build", "--version", "1.4.0", "--key", key1, "--wheels", wheels, "--out", "r1",
       "--min-compatible", "1.2.0", "--expires-in", "30d", cwd=tmp_path)  # fmt: skip
    manifest = json.loads((tmp_path / "r1" / "manifest.json").read_bytes())
    assert manifest["key_id"] == kid1 and manifest["min_compatible_version"] == "1.2.0"
    assert sorted(f["name"] for f in manifest["files"]) == sorted(p.name for p in wheels.iterdir())

    ok("trust", "export", "--key", "k1/release-key.pub", "--out", "trust.json", cwd=tmp_path)
    out = ok("verify", "r1", "--trust", "trust.json", "--installed", "1.3.0", cwd=tmp_path)
    assert out.startswith("ACCEPTED kendali-agent 1.4.0")

    # the gateway's verdicts: downgrade, below min compatible, a tampered wheel
    refused = kendali("verify", "r1", "--trust", "trust.json", "--installed", "1.5", cwd=tmp_path)
    assert refused.returncode == 1 and refused.stdout.startswith("REFUSED downgrade:")
    out = ok("verify", "r1", "--trust", "trust.json", "--installed", "1.5", "--allow-downgrade",
             cwd=tmp_path)  # fmt: skip
    assert out.startswith("ACCEPTED")
    refused = kendali("verify", "r1", "--trust", "trust.json", "--installed", "1.1", cwd=tmp_path)
    assert refused.returncode == 1 and "below_min_compatible" in refused.stdout
    wheel = next((tmp_path / "r1").glob("kendali-*.whl"))
    wheel.write_bytes(wheel.read_bytes()[:-10] + b"0123456789")
    refused = kendali("verify", "r1", "--trust", "trust.json", cwd=tmp_path)
    assert refused.returncode == 1 and refused.stdout.startswith("REFUSED hash_mismatch:")

    # rotation: k2 signed by k1; a gateway pinning only k1 trusts k2 through the statement
    out = ok("rotate", "--old-key", "k1", "--out", "k2", "--valid-from", "7d", cwd=tmp_path)
    assert stat.S_IMODE((tmp_path / "k2" / "release-key.pem").stat().st_mode) == 0o600
    ok("build", "--version", "1.5.0", "--key", "k2", "--wheel", next(wheels.glob("kendali-*")),
       "--out", "r2", cwd=tmp_path)  # fmt: skip
    refused = kendali("verify", "r2", "--trust", "trust.json", cwd=tmp_path)
    assert refused.returncode == 1 and refused.stdout.startswith("REFUSED unknown_key:")
    out = ok("trust", "export", "--key", "k1/release-key.pub", "--rotation", "k2/rotation.json",
             "--out", "trust2.json", cwd=tmp_path)  # fmt: skip
    assert kid1 in out
    assert ok("verify", "r2", "--trust", "trust2.json", cwd=tmp_path).startswith("ACCEPTED")
    # a statement made by a key the gateway never pinned does not export
    ok("keygen", "--out", "stranger", cwd=tmp_path)
    ok("rotate", "--old-key", "stranger", "--out", "k3", cwd=tmp_path)
    forged = kendali("trust", "export", "--key", "k1/release-key.pub", "--rotation",
                     "k3/rotation.json", "--out", "trust3.json", cwd=tmp_path)  # fmt: skip
    assert forged.returncode == 2 and "no given key or rotation reaches" in forged.stderr
    assert not (tmp_path / "trust3.json").exists()


def test_wrong_inputs_are_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    fake_wheel(tmp_path / "w", "kendali", "1.0")
    ok("keygen", "--out", "k", cwd=tmp_path)
    cases = [
        (["build", "--version", "1.0", "--key", "missing.pem", "--wheels", "w", "--out", "r"],
         "does not exist"),
        (["build", "--version", "1.0", "--key", "k/release-key.pub", "--wheels", "w",
          "--out", "r"], "that is a public key"),
        (["build", "--version", "1.0", "--key", "k", "--wheel", "w/none.whl", "--out", "r"],
         "none.whl does not exist"),
        (["build", "--version", "one", "--key", "k", "--wheels", "w", "--out", "r"],
         "not a PEP 440 version"),
        (["build", "--version", "1.0", "--key", "k", "--wheels", "w", "--expires-in", "999d",
          "--out", "r"], "at most 366d"),
        (["verify", "w", "--trust", "k/release-key.pem"], "is a private key"),
        (["verify", "nowhere", "--trust", "k/release-key.pub"], "not a directory"),
    ]  # fmt: skip
    for args, expected in cases:
        result = kendali(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr and result.stderr.startswith("error:"), result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()
    # a directory that is not a release: no signature, nothing believed
    result = kendali("verify", "w", "--trust", "k/release-key.pub", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout.startswith("REFUSED unsigned:")
