"""``here``: run ``kendali ARGS`` through its real entry point inside the test process.

The main paths of each command run as a subprocess; the many variants of filters and error
exits use this instead, since an interpreter start per case would double the directory's time.
It still goes through :class:`kendali_cli.main.KendaliApp`, so the one-line errors and exit codes
are the ones a person sees."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from kendali_cli.main import app

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def here(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("COLUMNS", "250")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            app([*args], prog_name="kendali")
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), int(done.value.code or 0), out.out, out.err)

    return run
