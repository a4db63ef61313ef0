"""The async twins behave exactly like the sync classes, on every backend."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import conversation_store as sync_api
from conversation_store import aio
from conversation_store.aio.postgres import PostgresStore as AsyncPostgresStore
from conversation_store.stores.cosmos.store import CosmosStore as SyncCosmosStore
from conversation_store.stores.postgres.store import PostgresStore as SyncPostgresStore
from support.cosmos_fixtures import TEST_DATABASE, TEST_LIMITS, CosmosTarget, fresh_container

Call = Callable[..., Awaitable[Any]]


# Operator calls that scan across customers (stats, cleanup, migration): the CLI runs them,
# synchronously, so they have no async twin.
SYNC_ONLY = {
    "scan_conversations",
    "count_messages_by_day",
    "delete_orphans",
    "cleanup_old_conversations",
    "get_stats",
    "pending_count",  # the outbox is sync-only
    "parked_count",
    "plan_cleanup",
    "plan_customer_deletion",
}


def _public_methods(cls: type) -> list[str]:
    return [
        name
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and name not in SYNC_ONLY
    ]


@pytest.mark.parametrize(
    ("sync_cls", "async_cls"),
    [
        (sync_api.ConversationManager, aio.ConversationManager),
        (SyncCosmosStore, aio.CosmosStore),
        (SyncPostgresStore, AsyncPostgresStore),
        (sync_api.SQLiteStore, aio.SQLiteStore),
        (sync_api.MemoryStore, aio.MemoryStore),
    ],
)
def test_async_twins_have_the_same_public_methods_and_parameters(
    sync_cls: type, async_cls: type
) -> None:
    assert _public_methods(sync_cls) == _public_methods(async_cls)
    for name in _public_methods(sync_cls):
        sync_params = list(inspect.signature(getattr(sync_cls, name)).parameters)
        async_params = list(inspect.signature(getattr(async_cls, name)).parameters)
        assert sync_params == async_params, name


def _normalize(value: Any, ids: dict[str, str]) -> Any:
    """Replace generated ids and times by stable placeholders so two runs compare equal."""
    if isinstance(value, dict):
        return {
            k: (
                "<time>"
                if k in ("created_at", "updated_at", "header_updated_at", "timestamp", "edited_at")
                else _normalize(v, ids)
            )
            for k, v in value.items()
            if k != "continuation"
        }
    if isinstance(value, list):
        return [_normalize(v, ids) for v in value]
    if isinstance(value, str) and value[:2] in ("c_", "m_") and len(value) == 28:
        return ids.setdefault(value, f"<id{len(ids)}>")
    return value


async def _scenario(call: Call) -> list[Any]:
    trace: list[Any] = []
    manager_doc = await call("create_conversation_document", "alice", "s1", title="Parity")
    await call("add_message_to_conversation", manager_doc, "system", "Be brief.")
    await call("add_message_to_conversation", manager_doc, "user", "Hello", tokens=2)
    await call("save_conversation", manager_doc)
    conversation_id = manager_doc.id
    for n in range(30):
        result = await call(
            "append_message",
            conversation_id,
            "alice",
            "assistant",
            f"a{n}",
            message_id=f"m_parity{n:02}",
        )
        trace.append(result.model_dump())
    retry = await call(
        "append_message", conversation_id, "alice", "assistant", "a0", message_id="m_parity00"
    )
    trace.append(retry.model_dump())
    await call("rename_conversation", conversation_id, "alice", "Renamed")
    loaded = await call("load_conversation", conversation_id, "alice")
    loaded.metadata["k"] = "v"
    await call("save_conversation", loaded)
    trace.append((await call("load_conversation", conversation_id, "alice")).to_document())
    history = await call("get_history", conversation_id, "alice", max_messages=4)
    trace.append([m.model_dump(mode="json") for m in history])
    page = await call("get_recent_conversations", "alice", 10)
    trace.append([s.model_dump(mode="json") for s in page.items])
    for bad in (
        ("append_message", conversation_id, "alice", "robot", "x"),
        ("load_conversation", conversation_id, "mallory"),
        ("get_recent_conversations", "alice", 0),
    ):
        try:
            await call(*bad)
        except sync_api.ConversationStoreError as exc:
            trace.append(type(exc).__name__)
    trace += await _feature_scenario(call, conversation_id)
    await call("clear_conversation", conversation_id, "alice")
    trace.append((await call("load_conversation", conversation_id, "alice")).message_count)
    await call("delete_conversation", conversation_id, "alice")
    await call("delete_conversation", conversation_id, "alice")
    moving = await call("create_conversation_document", "alice", "s1", title="Moving")
    await call("add_message_to_conversation", moving, "user", "Move me", tokens=2)
    await call("save_conversation", moving)
    trace.append(await call("move_customer_data", "alice", "bob"))
    trace.append((await call("load_conversation", moving.id, "bob")).to_document())
    trace.append((await call("get_recent_conversations", "alice")).items)
    return trace


async def _feature_scenario(call: Call, conversation_id: str) -> list[Any]:
    """Issue 6's per-conversation calls: search, edit, delete, fork, archive, share, export."""
    trace: list[Any] = []
    hits = await call("search_conversations", "alice", "a1")
    trace.append([h.model_dump(mode="json") for h in hits])
    edited = await call("edit_message", conversation_id, "alice", "m_parity01", "edited a1")
    trace.append(edited.content)
    await call("delete_message", conversation_id, "alice", "m_parity02")
    fork = await call("fork_conversation", conversation_id, "alice", "m_parity03")
    trace.append([m.content for m in fork.messages])
    await call("archive_conversation", fork.id, "alice")
    archived = await call("get_recent_conversations", "alice", 10, None, archived=True)
    trace.append([s.id == fork.id for s in archived.items])
    token = await call("share_conversation", conversation_id, "alice")
    trace.append((await call("open_shared_conversation", token)).message_count)
    await call("unshare_conversation", conversation_id, "alice")
    await call("set_summary", conversation_id, "alice", "A parity run.")
    await call("set_conversation_ttl", conversation_id, "alice", 3600)
    trace += await _message_ops_scenario(call, conversation_id)
    exported = await call("export_conversation", conversation_id, "alice")
    await call("delete_conversation", conversation_id, "alice")
    trace.append((await call("import_conversations", exported, customer_id="alice")).created)
    trace.append((await call("load_conversation", conversation_id, "alice")).to_document())
    trace.append(await call("delete_customer_data", "nobody"))
    return trace


async def _message_ops_scenario(call: Call, conversation_id: str) -> list[Any]:
    """Issue 15's message operations: create-or-append, pop, raw pages, replace."""
    ops = [sync_api.Message(id=f"m_ops{n}", role="user", content=f"op {n}") for n in range(4)]
    trace: list[Any] = []
    created = await call(
        "append_messages", "c_ops", "alice", ops[:3], create_if_missing=True, title="Ops"
    )
    trace.append(created.model_dump())
    popped = await call("pop_messages", conversation_id, "alice", 2)
    trace.append([m.model_dump(mode="json") for m in popped])
    page = await call("get_messages", conversation_id, "alice", last=3, before="m_parity10")
    trace.append([m.id for m in page])
    replaced = await call("replace_messages", "c_ops", "alice", ops[2:])
    trace.append(replaced.model_dump())
    trace.append([m.id for m in await call("get_messages", "c_ops", "alice")])
    await call("delete_conversation", "c_ops", "alice")
    return trace


def _caller(manager: Any) -> Call:
    async def call(name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(manager, name)(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    return call


@pytest.fixture(params=["memory", "sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
def twin_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    if request.param == "memory":
        yield sync_api.MemoryStore(), aio.MemoryStore()
    elif request.param == "sqlite":
        yield sync_api.SQLiteStore(tmp_path / "s.db"), aio.SQLiteStore(tmp_path / "a.db")
    else:
        target: CosmosTarget = request.getfixturevalue("cosmos_target")
        common: dict[str, Any] = {
            "credential": target.key,
            "database": TEST_DATABASE,
            "connection_verify": target.verify_tls,
            "limits": TEST_LIMITS,
        }
        with fresh_container(target) as first, fresh_container(target) as second:
            yield (
                SyncCosmosStore.from_endpoint(target.endpoint, container=first, **common),
                aio.CosmosStore.from_endpoint(target.endpoint, container=second, **common),
            )


async def test_sync_and_async_managers_give_the_same_results(twin_stores: tuple[Any, Any]) -> None:
    sync_store, async_store = twin_stores
    sync_trace = await _scenario(_caller(sync_api.ConversationManager(sync_store)))
    async with aio.ConversationManager(async_store, owns_store=True) as manager:
        async_trace = await _scenario(_caller(manager))
    sync_store.close()

    assert _normalize(async_trace, {}) == _normalize(sync_trace, {})
    assert sync_trace[-1] == [] and "InvalidInputError" in sync_trace
