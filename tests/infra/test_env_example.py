"""`.env.example` lists exactly the environment variables the code reads, and infra sets them.

Names are collected from `environ.get("X")`, `environ["X"]`, `getenv("X")` (also through
`os.`) and the settings class's `validation_alias="X"` in src/, streamlit_app/ and examples/.
Test-only `COSMOS_TEST_*` variables are left out.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("src", "streamlit_app", "examples")
READ = re.compile(
    r"""(?:\benviron(?:\.get)?\s*[\(\[]|\bgetenv\s*\(|\bvalidation_alias\s*=)"""
    r"""\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"""
)
DECLARED = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", re.MULTILINE)
TEST_ONLY_PREFIX = "COSMOS_TEST_"


def read_variables() -> dict[str, set[str]]:
    """Each variable the code reads, with the files that read it."""
    found: dict[str, set[str]] = {}
    for folder in SCANNED:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for name in READ.findall(path.read_text(encoding="utf-8")):
                if not name.startswith(TEST_ONLY_PREFIX):
                    found.setdefault(name, set()).add(str(path.relative_to(REPO_ROOT)))
    return found


def declared_variables() -> set[str]:
    return set(DECLARED.findall((REPO_ROOT / ".env.example").read_text(encoding="utf-8")))


def test_the_scan_finds_the_settings_the_library_reads() -> None:
    assert {
        "COSMOSDB_ENDPOINT",
        "COSMOSDB_DATABASE",
        "COSMOSDB_AIConversations_CONTAINER",
        "COSMOSDB_KEY",
        "CONVERSATION_STORE_URL",
    } <= set(read_variables())


def test_every_variable_read_is_in_env_example() -> None:
    missing = {n: sorted(f) for n, f in read_variables().items() if n not in declared_variables()}
    assert not missing, f"read by the code but missing from .env.example: {missing}"


def test_env_example_lists_nothing_the_code_ignores() -> None:
    unused = sorted(declared_variables() - set(read_variables()))
    assert not unused, f"in .env.example but read nowhere in {', '.join(SCANNED)}: {unused}"


def test_every_line_of_env_example_is_documented() -> None:
    lines = (REPO_ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if DECLARED.match(line):
            previous = lines[index - 1].strip() if index else ""
            assert previous.startswith("#") or DECLARED.match(previous), (
                f".env.example line {index + 1} ({line.split('=')[0]}) has no comment above it"
            )
