"""docs/cli.md runs as written: each ```bash block, in order, in a fresh directory; a ```text
block right after one is exactly what it prints. (```sh blocks need Azure or the app's data
and are not run.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import CLI_TIMEOUT, clean_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(DOC.read_text(encoding="utf-8"))]


def test_the_walk_through_runs_as_written(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "conversation-store").exists():
        pytest.skip("the package is not installed with its console script")
    (tmp_path / ".venv").symlink_to(venv)  # the doc's commands start with .venv/bin/
    found = blocks()
    ran = 0
    following = [*found[1:], ("", "")]
    for (language, script), (next_language, expected) in zip(found, following, strict=True):
        if language != "bash":
            continue
        done = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=CLI_TIMEOUT,
        )
        assert done.returncode == 0, f"{script}\n{done.stderr}"
        if next_language == "text":
            assert done.stdout == expected, script
        ran += 1
    assert ran >= 6
