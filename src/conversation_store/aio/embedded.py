"""Async twins of the embedded stores: the sync store's calls run on worker threads.

SQLite I/O is short and local, so a thread per call (`asyncio.to_thread`) keeps the event loop
free without a second implementation of the store. The operator calls (`scan_conversations`,
`count_messages_by_day`) stay on the sync stores only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from conversation_store.models import (
    NO_FILTER,
    AppendResult,
    Conversation,
    ConversationKey,
    ConversationSummary,
    HeaderUpdate,
    ListFilter,
    Message,
    Page,
    SearchHit,
    ShareLink,
)
from conversation_store.stores import memory
from conversation_store.stores.sqlite import store as sqlite


class _ThreadedStore:
    """The core protocol with search, editing, message operations, erasure, share links and
    external ids, as the wrapped store offers them."""

    def __init__(self, store: memory.MemoryStore | sqlite.SQLiteStore) -> None:
        self._sync = store

    async def __aenter__(self) -> _ThreadedStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def create_conversation(self, conversation: Conversation) -> Conversation:
        return await asyncio.to_thread(self._sync.create_conversation, conversation)

    async def get_conversation(
        self, key: ConversationKey, *, last: int | None = None
    ) -> Conversation:
        return await asyncio.to_thread(self._sync.get_conversation, key, last=last)

    async def append_messages(
        self, key: ConversationKey, messages: Sequence[Message]
    ) -> AppendResult:
        return await asyncio.to_thread(self._sync.append_messages, key, messages)

    async def update_conversation(
        self, key: ConversationKey, update: HeaderUpdate, *, etag: str | None = None
    ) -> None:
        await asyncio.to_thread(self._sync.update_conversation, key, update, etag=etag)

    async def list_conversations(
        self,
        customer_id: str,
        *,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
        where: ListFilter = NO_FILTER,
    ) -> Page[ConversationSummary]:
        return await asyncio.to_thread(
            self._sync.list_conversations,
            customer_id,
            limit=limit,
            continuation=continuation,
            archived=archived,
            where=where,
        )

    async def get_conversation_by_external_id(
        self, customer_id: str, external_id: str, *, last: int | None = None
    ) -> Conversation:
        return await asyncio.to_thread(
            self._sync.get_conversation_by_external_id, customer_id, external_id, last=last
        )

    async def delete_conversation(self, key: ConversationKey) -> None:
        await asyncio.to_thread(self._sync.delete_conversation, key)

    async def close(self) -> None:
        await asyncio.to_thread(self._sync.close)

    async def search_messages(self, customer_id: str, *, query: str, limit: int) -> list[SearchHit]:
        return await asyncio.to_thread(
            self._sync.search_messages, customer_id, query=query, limit=limit
        )

    async def replace_message(
        self, key: ConversationKey, message_id: str, message: Message | None
    ) -> None:
        await asyncio.to_thread(self._sync.replace_message, key, message_id, message)

    async def clear_messages(self, key: ConversationKey) -> None:
        await asyncio.to_thread(self._sync.clear_messages, key)

    async def pop_messages(self, key: ConversationKey, n: int) -> list[Message]:
        return await asyncio.to_thread(self._sync.pop_messages, key, n)

    async def replace_messages(self, key: ConversationKey, messages: Sequence[Message]) -> None:
        await asyncio.to_thread(self._sync.replace_messages, key, messages)

    async def delete_customer(self, customer_id: str) -> int:
        return await asyncio.to_thread(self._sync.delete_customer, customer_id)

    async def put_share_link(self, link: ShareLink) -> None:
        await asyncio.to_thread(self._sync.put_share_link, link)

    async def get_share_link(self, token_hash: str) -> ShareLink | None:
        return await asyncio.to_thread(self._sync.get_share_link, token_hash)

    async def delete_share_link(self, token_hash: str) -> None:
        await asyncio.to_thread(self._sync.delete_share_link, token_hash)


class MemoryStore(_ThreadedStore):
    """Async twin of `conversation_store.MemoryStore`."""

    def __init__(self) -> None:
        super().__init__(memory.MemoryStore())


class SQLiteStore(_ThreadedStore):
    """Async twin of `conversation_store.SQLiteStore` (the same file format)."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 10_000,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        super().__init__(
            sqlite.SQLiteStore(path, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous)
        )
