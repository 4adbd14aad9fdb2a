"""Every command list in ``--help`` gives each command one line (on a wide terminal): a
docstring's own line breaks must not cut a summary mid-sentence."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.helpers import KENDALI

GROUPS = [[], ["release"], ["fleet"], ["provision", "token"]]  # groups whose help had broken lines


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: " ".join(g) or "kendali")
def test_each_command_is_one_line_in_the_list(group: list[str]) -> None:
    done = subprocess.run(
        [*KENDALI, *group, "--help"],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    panel = done.stdout.split("Commands")[1]
    rows = [line for line in panel.splitlines() if line.startswith("│")]
    assert rows, done.stdout
    continued = [r for r in rows if re.match(r"^│\s{2,}\S", r)]
    assert not continued, continued
