"""The README's quick start runs as written (docs that stay true)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_quick_start_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (snippet,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    script = tmp_path / "quick_start.py"
    script.write_text(snippet)
    monkeypatch.chdir(tmp_path)

    runpy.run_path(str(script))

    output = capsys.readouterr().out
    assert "Plan a trip to Tokyo" in output and "ConversationSummary" in output
    assert not (tmp_path / "data").exists()  # the app's own database is left alone
