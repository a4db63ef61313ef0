"""Each feature page of docs/ has a runnable example, and it runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
FEATURE_PAGES = [
    "messages-and-tokens.md",
    "search.md",
    "editing-and-forking.md",
    "archive-and-share.md",
    "retention.md",
    "stats.md",
    "export-import.md",
]


@pytest.mark.parametrize("page", FEATURE_PAGES)
def test_feature_page_example_runs(page: str, tmp_path: Path) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.DOTALL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSMOSDB_", "CONVERSATION"))}

    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_every_feature_page_is_linked_from_the_readme() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    for page in FEATURE_PAGES:
        assert f"docs/{page}" in readme, page
