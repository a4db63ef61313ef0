"""The public surface is small and complete (after httpx's tests/test_exported_members.py).

Public means: exported by `conversation_store` (in `__all__`) or by `conversation_store.aio`.
What the app, the Functions example and the docs import must be public, and they must import
nothing else of ours.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import conversation_store
from conversation_store import aio

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_MODULES = {"conversation_store", "conversation_store.aio"}
PUBLIC_PACKAGES = ("conversation_store.integrations.",)  # documented subpackages, when they come
# Exported but imported on first use (module `__getattr__`): psycopg is an optional extra.
LAZY = {"PostgresStore"}
CODE_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_all_exports_every_public_name_and_nothing_else() -> None:
    # Submodules become attributes of the package once anything imports them; they are
    # reached by their module path, not exported.
    public = {
        name
        for name, value in vars(conversation_store).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(conversation_store.__all__) == public | LAZY


def test_postgres_store_is_exported_without_importing_psycopg() -> None:
    from conversation_store.aio.postgres import PostgresStore as AsyncPostgresStore
    from conversation_store.stores.postgres.store import PostgresStore

    assert conversation_store.PostgresStore is PostgresStore
    assert aio.PostgresStore is AsyncPostgresStore
    probe = "import sys, conversation_store.aio; print('psycopg' in sys.modules)"
    fresh = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    )
    assert fresh.stdout.strip() == "False"


def test_aio_exports_the_same_class_names_as_the_sync_package() -> None:
    for name in aio.__all__:
        assert name in conversation_store.__all__, name


def test_settings_never_show_the_key() -> None:
    settings = conversation_store.Settings.from_env(
        {"COSMOSDB_ENDPOINT": "https://x.documents.azure.com", "COSMOSDB_KEY": "s3cr3t=="}
    )
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings)


def consumer_sources() -> Iterator[tuple[str, str]]:
    """(where, Python source) of every file and docs code block that uses the library."""
    for folder in ("streamlit_app", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        for number, block in enumerate(CODE_BLOCK.findall(path.read_text(encoding="utf-8"))):
            yield f"{path.relative_to(ROOT)} block {number + 1}", block


def our_imports(source: str) -> Iterator[tuple[str, list[str]]]:
    """(module, imported names) of each import of a conversation_store module."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "conversation_store":
                yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "conversation_store":
                    yield alias.name, []


def is_public(module: str) -> bool:
    return module in PUBLIC_MODULES or module.startswith(PUBLIC_PACKAGES)


def test_the_app_examples_and_docs_import_only_public_modules() -> None:
    private = [
        f"{where}: {module}"
        for where, source in consumer_sources()
        for module, _ in our_imports(source)
        if not is_public(module)
    ]
    assert private == []


def test_every_class_they_import_is_exported() -> None:
    missing = [
        f"{where}: {module}.{name}"
        for where, source in consumer_sources()
        for module, names in our_imports(source)
        for name in names
        if name[:1].isupper() and not (hasattr(conversation_store, name) or hasattr(aio, name))
    ]
    assert missing == []
