"""The OTA download benchmark's code path on a tiny file: the server really cuts the connection
three times, the agent's downloader resumes each time, and the benchmark's own check (nothing
served twice, every cut made, the uncut baseline whole) passes. No speed is asserted."""

from __future__ import annotations

import pytest

from benchmarks import ota_download


def test_three_cuts_resume_without_resending(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(ota_download, "RETRY_PAUSE_S", 0.01)
    code = ota_download.main(["--size-mb", "0.3", "--cap-kbps", "100000"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "resent bytes (served - file size): 0  OK" in out
    assert "cut at bytes 60000, 150000, 240000 (3 cuts)" in out
    assert "connections 4" in out  # one per cut, and the last one to the end
