"""`.env.example` and docs/configuration.md list exactly the fields of `Settings`, under the
variable names it reads, and the example file as shipped gives the defaults."""

from __future__ import annotations

import re
from pathlib import Path

from conversation_store import Settings
from conversation_store.settings import variable_of
from support.seed_snippet import SEED_SNIPPET

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
CONFIGURATION = ROOT / "docs" / "configuration.md"
# .env.example lists the library's settings first, then the Streamlit app's own from here.
APP_SECTION = "# --- Streamlit app"
DECLARED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
TABLE_ROW = re.compile(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \| `([a-z_]+)` \|", re.MULTILINE)


def settings_variables() -> dict[str, str]:
    """Each variable `Settings` reads, and its field."""
    return {variable_of(field): field for field in Settings.model_fields}


def test_env_example_lists_exactly_the_settings_before_the_app_section() -> None:
    library, marker, app = ENV_EXAMPLE.read_text(encoding="utf-8").partition(APP_SECTION)
    assert marker, f".env.example has no {APP_SECTION!r} line"
    assert sorted(DECLARED.findall(library)) == sorted(settings_variables())
    assert not set(DECLARED.findall(app)) & set(settings_variables())


def test_configuration_page_lists_exactly_the_settings_with_their_fields() -> None:
    rows = dict(TABLE_ROW.findall(CONFIGURATION.read_text(encoding="utf-8")))
    assert rows == settings_variables()


def test_env_example_copied_unchanged_gives_the_defaults() -> None:
    assert Settings.from_env({}, env_file=ENV_EXAMPLE) == Settings()


def test_configuration_page_shows_the_seed_snippet_as_it_runs_in_the_tests() -> None:
    assert f"```python\n{SEED_SNIPPET}```" in CONFIGURATION.read_text(encoding="utf-8")
