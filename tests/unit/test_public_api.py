"""The public surface is small and complete (after httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import inspect

import conversation_store
from conversation_store import aio


def test_all_exports_every_public_name_and_nothing_else() -> None:
    # Submodules become attributes of the package once anything imports them; they are
    # reached by their module path, not exported.
    public = {
        name
        for name, value in vars(conversation_store).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(conversation_store.__all__) == public


def test_aio_exports_the_same_class_names_as_the_sync_package() -> None:
    for name in aio.__all__:
        assert name in conversation_store.__all__, name


def test_settings_never_show_the_key() -> None:
    settings = conversation_store.Settings.from_env(
        {"COSMOSDB_ENDPOINT": "https://x.documents.azure.com", "COSMOSDB_KEY": "s3cr3t=="}
    )
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings)
