"""The example of docs/integrations/openai-agents.md runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("agents")

PAGE = Path(__file__).resolve().parents[2] / "docs" / "integrations" / "openai-agents.md"


def test_the_example_runs_and_stores_the_run(tmp_path: Path) -> None:
    (example,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSMOSDB_", "CONVERSATION"))}

    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        'The weather: {"city": "Tokyo", "temp": 21}',
        "['user', 'function_call', 'function_call_output', 'message']",
    ]
    assert "'id': 'msg_1'" in lines[2]
    assert lines[3].startswith("[('user', 'message', 'Weather in Tokyo?'), ('assistant',")


def test_without_the_sdk_the_import_error_names_the_extra() -> None:
    hide_the_sdk = "import sys; sys.modules['agents'] = None; "
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            hide_the_sdk + "import conversation_store.integrations.openai_agents",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "pip install 'conversation-store[openai-agents]'" in result.stderr
