"""Fixtures for the CLI tests: a runner bound to a clean environment, and a seeded file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_support import Cli, clean_env, run_cli, seed_store

from conversation_store import Conversation


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Runs the CLI in `tmp_path` with no store settings but those a test passes."""

    def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=clean_env(**env), cwd=tmp_path, stdin=stdin)

    return run


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, list[Conversation]]:
    """A SQLite file holding alice's two conversations and bob's one."""
    path = tmp_path / "source.db"
    return path, seed_store(path)
