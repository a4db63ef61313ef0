"""Fixtures shared by every test folder: one store per backend, and a manager over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conversation_store import ConversationManager, ConversationStore, MemoryStore, SQLiteStore

StoreFactory = Callable[[], ConversationStore]


def _memory(tmp_path: Path) -> StoreFactory:
    return MemoryStore


def _sqlite(tmp_path: Path) -> StoreFactory:
    return lambda: SQLiteStore(tmp_path / "conversations.db")


BACKENDS: dict[str, Callable[[Path], StoreFactory]] = {"memory": _memory, "sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Opens a store of one backend; every store it opens shares that backend's data."""
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[ConversationStore]:
    opened = store_factory()
    yield opened
    opened.close()


@pytest.fixture
def manager(store: ConversationStore) -> ConversationManager:
    return ConversationManager(store)
