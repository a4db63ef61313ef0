"""The Azure Cosmos DB for NoSQL store (async), the one source of the sync `CosmosStore`.

Both share every decision (documents, patches, queries, sizes, errors, retries) with
`documents.py`, `cosmos_errors.py` and `retrying.py`; this file only performs the I/O.
Append = one conditional patch; sealing old messages into segments = one transactional batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.cosmos.aio import ContainerProxy, CosmosClient
from azure.identity.aio import DefaultAzureCredential

from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    InvalidInputError,
    MessageNotFoundError,
    StoreClosedError,
)
from conversation_store.models import (
    AppendResult,
    Conversation,
    ConversationSummary,
    Message,
    Page,
    SearchHit,
)
from conversation_store.search import search_terms
from conversation_store.stores.cosmos import items as docs
from conversation_store.stores.cosmos import queries
from conversation_store.stores.cosmos.charges import ChargeHook, charge_reporter
from conversation_store.stores.cosmos.config import (
    DEFAULT_CONTAINER,
    DEFAULT_DATABASE,
    NO_DEFAULT_TTL,
    PARTITION_KEY,
    checked_credential,
    client_options,
)
from conversation_store.stores.cosmos.errors import translate
from conversation_store.stores.cosmos.retrying import RetryPolicy
from conversation_store.stores.protocol import HeaderUpdate
from conversation_store.tracking import mark_saved

T = TypeVar("T")
_MAX_WRITE_RACES = 30  # optimistic (ETag) retries when writers race on one head


class CosmosStore:
    """Conversations in one Cosmos DB container partitioned by `/customer_id`.

    Thread-safe: the SDK client is, and the store keeps no per-conversation state.
    """

    def __init__(
        self,
        container: ContainerProxy | Callable[[], Awaitable[ContainerProxy]],
        *,
        limits: docs.SizeLimits | None = None,
        retry: RetryPolicy | None = None,
        on_charge: ChargeHook | None = None,
        owned: Sequence[Any] = (),
    ) -> None:
        # A factory connects on first use, inside the retry and error-translation boundary
        # (the twin of the sync store, whose client reads the account on construction).
        self._container = container if isinstance(container, ContainerProxy) else None
        self._connect = None if isinstance(container, ContainerProxy) else container
        self._connect_lock = asyncio.Lock()
        self._container_name = self._container.id if self._container else "(not connected)"
        self._limits = limits or docs.SizeLimits()
        self._retry = retry or RetryPolicy()
        self._on_charge = on_charge
        self._owned = list(owned)  # what this store created and must close
        self._closed = False

    @classmethod
    def from_endpoint(
        cls,
        endpoint: str,
        *,
        credential: str | AsyncTokenCredential | None = None,
        database: str = DEFAULT_DATABASE,
        container: str = DEFAULT_CONTAINER,
        create_if_missing: bool = False,
        connection_verify: bool = True,
        transport: AsyncHttpTransport[Any, Any] | None = None,
        **kwargs: Any,
    ) -> CosmosStore:
        """Open a client for `endpoint`. No credential: `DefaultAzureCredential` (managed identity).

        A key string is for the emulator and development only. `create_if_missing` creates the
        database and container before the first request (leave it off in production, where infra
        creates them), with TTL on (`default_ttl=-1`: nothing expires unless it has its own
        `ttl`), as infra/main.bicep creates it. `transport` replaces the HTTP transport (tests
        count or inject faults with it). No I/O happens here, so it may run at import time of a
        Function app.
        """
        owned: list[Any] = []
        credential = checked_credential(credential)
        if credential is None:
            credential = DefaultAzureCredential()
            owned.append(credential)

        async def connect() -> ContainerProxy:
            client = CosmosClient(
                endpoint,
                credential=credential,
                **client_options(connection_verify=connection_verify, transport=transport),
            )
            owned.insert(0, client)
            if create_if_missing:
                db = await client.create_database_if_not_exists(database)
                return await db.create_container_if_not_exists(
                    container, partition_key=PARTITION_KEY, default_ttl=NO_DEFAULT_TTL
                )
            return client.get_database_client(database).get_container_client(container)

        store = cls(connect, owned=owned, **kwargs)
        store._container_name = container
        return store

    async def __aenter__(self) -> CosmosStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"CosmosStore(container={self._container_name!r})"

    async def create_conversation(self, conversation: Conversation) -> Conversation:
        head, segments = docs.new_items(conversation, self._limits)
        scope = (conversation.id, conversation.customer_id)
        if segments:
            etag = await self._create_in_batches(scope, docs.creation_batches(head, segments))
        else:
            created = await self._sdk("create", scope, "create_item", head)
            etag = created.get("_etag")
        stored = docs.conversation_from_items(head, segments)
        mark_saved(stored, etag)
        return stored

    async def get_conversation(
        self, *, customer_id: str, conversation_id: str, last: int | None = None
    ) -> Conversation:
        scope = (conversation_id, customer_id)
        head = await self._read_head(scope)
        count = int(head.get("segment_count", 0))
        if last is None:
            query = queries.segments_query(customer_id, conversation_id)
            segments = await self._query(scope, "load", query) if count else []
        else:
            segments = await self._newest_segments(scope, head, last)
        conversation = docs.conversation_from_items(head, segments, last=last)
        mark_saved(conversation, head.get("_etag"))
        return conversation

    async def append_messages(
        self, *, customer_id: str, conversation_id: str, messages: Sequence[Message]
    ) -> AppendResult:
        scope = (conversation_id, customer_id)
        pending = docs.message_documents(messages)
        for start in range(0, len(pending), docs.MESSAGES_PER_PATCH):
            await self._append_chunk(scope, pending[start : start + docs.MESSAGES_PER_PATCH])
        return AppendResult(
            conversation_id=conversation_id, message_ids=[m.id for m in messages if m.id]
        )

    async def update_conversation(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        update: HeaderUpdate,
        etag: str | None = None,
    ) -> None:
        scope = (conversation_id, customer_id)
        condition: dict[str, Any] = (
            {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        )
        for operations in docs.header_operations(update, docs.now()):
            try:
                await self._sdk(
                    "update",
                    scope,
                    "patch_item",
                    conversation_id,
                    customer_id,
                    patch_operations=operations,
                    filter_predicate=docs.header_predicate(docs.epoch_seconds()),
                    no_response=True,
                    **condition,
                )
            except (ConflictError, InvalidInputError):
                # A seed document or an expired head (412 from the predicate), a metadata key
                # or ttl already removed (400), or a stale etag (412, re-checked there): rewrite
                # the head by ETag, after a read that also finds an expired head gone.
                await self._update_by_replace(scope, update, etag)
                return
            condition = {}

    async def clear_messages(self, *, customer_id: str, conversation_id: str) -> None:
        scope = (conversation_id, customer_id)
        for _ in range(_MAX_WRITE_RACES):
            head = await self._read_head(scope)
            segment_ids = await self._segment_ids(scope)
            cleared = docs.cleared_head(head, docs.now())
            try:
                await self._delete_then_write(
                    scope,
                    segment_ids,
                    ("replace", (conversation_id, cleared), {"if_match_etag": head["_etag"]}),
                )
                return
            except ConflictError:
                continue
        raise ConflictError(f"conversation {conversation_id!r} kept changing during clear")

    async def list_conversations(
        self,
        *,
        customer_id: str,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
    ) -> Page[ConversationSummary]:
        scope = ("*", customer_id)
        position = queries.list_position(continuation, customer_id, archived)
        query = queries.list_query(customer_id, archived, docs.epoch_seconds())

        async def first_page() -> tuple[list[dict[str, Any]], str | None]:
            pager = (
                (await self._proxy())
                .query_items(
                    query.text,
                    parameters=query.parameters,
                    partition_key=customer_id,
                    max_item_count=limit,
                    response_hook=charge_reporter(self._on_charge, "list"),
                )
                .by_page(position)
            )  # an AsyncItemPaged page iterator: has continuation_token
            try:
                items = [item async for item in await pager.__anext__()]
            except StopAsyncIteration:
                items = []
            return items, getattr(pager, "continuation_token", None)

        items, token = await self._call("list", scope, first_page)
        summaries = [ConversationSummary.model_validate(item) for item in items]
        return Page(
            items=summaries, continuation=queries.list_continuation(customer_id, archived, token)
        )

    async def delete_conversation(self, *, customer_id: str, conversation_id: str) -> None:
        scope = (conversation_id, customer_id)
        try:
            await self._delete_then_write(
                scope, await self._segment_ids(scope), ("delete", (conversation_id,))
            )
        except ConversationNotFoundError:
            return

    async def search_messages(self, *, customer_id: str, query: str, limit: int) -> list[SearchHit]:
        """One query over the customer's heads and segments (plus one per 100 conversations
        whose segments matched, for their titles and to skip those whose head is gone)."""
        terms = search_terms(query)
        scope = ("*", customer_id)
        now = docs.epoch_seconds()
        candidates = await self._query(
            scope, "search", queries.search_query(customer_id, terms, now)
        )
        rows = queries.confirmed(candidates, terms)
        titles: dict[str, str | None] = {}
        for ids in queries.segment_conversation_ids(rows):
            titles_query = queries.titles_query(customer_id, ids, now)
            for head in await self._query(scope, "search", titles_query):
                titles[head["id"]] = head.get("title")
        return queries.search_hits(rows, titles, terms, limit)

    async def replace_message(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        message_id: str,
        message: Message | None,
    ) -> None:
        scope = (conversation_id, customer_id)
        new = docs.message_documents([message])[0] if message is not None else None
        for race in range(_MAX_WRITE_RACES):
            operations = await self._replacement(scope, message_id, new)
            try:
                await self._write_batch(scope, "replace", operations)
                return
            except (ConflictError, ConversationNotFoundError):
                # Another writer changed the head or segment (412), or a clear removed the
                # segment (404): look again; a head that is gone raises on the next read.
                await asyncio.sleep(docs.race_backoff(race))
        raise ConflictError(f"conversation {conversation_id!r} kept changing during an edit")

    async def delete_customer(self, *, customer_id: str) -> int:
        """Lists and deletes until nothing is left (one more query confirms it), so items that
        a concurrent writer added meanwhile go too."""
        scope = ("*", customer_id)
        deleted = 0
        for _ in range(_MAX_WRITE_RACES):
            items = await self._query(scope, "delete", queries.customer_items_query(customer_id))
            if not items:
                return deleted
            deleted += await self._delete_items(scope, items)
        raise ConflictError(f"the items of customer {customer_id!r} kept changing during delete")

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            for resource in self._owned:
                await resource.close()

    # -- internals --------------------------------------------------------------------------

    async def _call(
        self,
        operation: str,
        scope: tuple[str, str],
        fn: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """Run `fn` under the retry policy; translate its final SDK error. scope: (id, customer)."""
        if self._closed:
            raise StoreClosedError("CosmosStore is closed")
        try:
            return await self._retry.async_retrying()(fn, *args, **kwargs)
        except AzureError as exc:
            raise translate(exc, conversation_id=scope[0], customer_id=scope[1]) from exc

    async def _proxy(self) -> ContainerProxy:
        """The container client, connecting first if this store has not yet."""
        async with self._connect_lock:
            if self._container is None:
                assert self._connect is not None
                self._container = await self._connect()
            return self._container

    async def _sdk(
        self,
        operation: str,
        scope: tuple[str, str],
        method: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """`_call` for one SDK request, reporting its charge."""
        hook = charge_reporter(self._on_charge, operation)

        async def send() -> Any:
            result: Any = await getattr(await self._proxy(), method)(
                *args, response_hook=hook, **kwargs
            )
            return result

        return await self._call(operation, scope, send)

    async def _read_head(self, scope: tuple[str, str]) -> dict[str, Any]:
        """The head as stored; an expired one is not found."""
        item: dict[str, Any] = await self._sdk(
            "read", scope, "read_item", scope[0], partition_key=scope[1]
        )
        if docs.head_expired(item, docs.epoch_seconds()):
            raise ConversationNotFoundError(scope[0], scope[1])
        return item

    async def _pages(
        self, scope: tuple[str, str], operation: str, query: queries.Query
    ) -> AsyncIterator[list[Any]]:
        """The query's results page by page, each page fetched under the retry policy."""
        where: dict[str, Any] = (
            {"partition_key": query.partition_key}
            if query.partition_key is not None
            else {"enable_cross_partition_query": True}
        )

        async def open_pages() -> AsyncIterator[AsyncIterator[Any]]:
            return (
                (await self._proxy())
                .query_items(
                    query.text,
                    parameters=query.parameters,
                    response_hook=charge_reporter(self._on_charge, operation),
                    **where,
                )
                .by_page()
            )

        async def next_page(pages: AsyncIterator[AsyncIterator[Any]]) -> list[Any] | None:
            # The SDK advances its position only after a page arrived: a retry asks again.
            try:
                page = await pages.__anext__()
            except StopAsyncIteration:
                return None
            return [item async for item in page]

        pages = await self._call(operation, scope, open_pages)
        while (page := await self._call(operation, scope, next_page, pages)) is not None:
            yield page

    async def _query(
        self, scope: tuple[str, str], operation: str, query: queries.Query
    ) -> list[dict[str, Any]]:
        return [item async for page in self._pages(scope, operation, query) for item in page]

    async def _segment_ids(self, scope: tuple[str, str]) -> list[str]:
        query = queries.segment_ids_query(scope[1], scope[0])
        return [item["id"] for item in await self._query(scope, "delete", query)]

    async def _newest_segments(
        self, scope: tuple[str, str], head: dict[str, Any], last: int
    ) -> list[dict[str, Any]]:
        """Point-read segments newest first until `last` messages are at hand."""
        have = docs.head_messages_available(head)
        segments: list[dict[str, Any]] = []
        for number in range(int(head.get("segment_count", 0)) - 1, -1, -1):
            if have >= last:
                break
            try:
                segment: dict[str, Any] = await self._sdk(
                    "read",
                    scope,
                    "read_item",
                    docs.segment_id(scope[0], number),
                    partition_key=scope[1],
                )
            except ConversationNotFoundError:
                continue  # removed by a delete or clear that is still under way
            segments.append(segment)
            have += len(segment["messages"])
        return segments

    async def _append_chunk(self, scope: tuple[str, str], chunk: list[dict[str, Any]]) -> None:
        """One conditional patch. If it fails (412), the head is full, the messages are already
        there (a retried request), or another writer sealed first: re-read and patch again,
        or seal the oldest messages into segments, racing other writers by ETag."""
        for race in range(_MAX_WRITE_RACES):
            try:
                await self._sdk(
                    "append",
                    scope,
                    "patch_item",
                    scope[0],
                    scope[1],
                    patch_operations=docs.append_operations(chunk, docs.now()),
                    filter_predicate=docs.append_predicate(
                        chunk, self._limits, docs.epoch_seconds()
                    ),
                    no_response=True,
                )
                return
            except ConflictError:
                pass
            item = await self._read_head(scope)
            head = docs.upgraded_head(item)
            chunk = docs.missing_messages(head, chunk)
            if not chunk:
                return
            if docs.has_room(item, chunk, self._limits):
                continue  # another writer sealed meanwhile: the patch fits now
            new_head, segments = docs.seal_into_head(
                docs.grown_head(head, chunk, docs.now()), chunk, self._limits, force=True
            )
            replace = ("replace", (scope[0], new_head), {"if_match_etag": item["_etag"]})
            try:
                await self._write_batch(
                    scope, "append", [*(("create", (s,)) for s in segments), replace]
                )
                return
            except ConflictError:
                await asyncio.sleep(docs.race_backoff(race))
        raise ConflictError(f"conversation {scope[0]!r} kept changing during append")

    async def _update_by_replace(
        self, scope: tuple[str, str], update: HeaderUpdate, etag: str | None
    ) -> None:
        for _ in range(_MAX_WRITE_RACES):
            item = await self._read_head(scope)
            if etag is not None and item["_etag"] != etag:
                raise ConflictError(f"conversation {scope[0]!r} changed since it was read")
            body = docs.updated_head(docs.upgraded_head(item), update, docs.now())
            try:
                await self._sdk(
                    "update",
                    scope,
                    "replace_item",
                    scope[0],
                    body,
                    etag=item["_etag"],
                    match_condition=MatchConditions.IfNotModified,
                    no_response=True,
                )
                return
            except ConflictError:
                if etag is not None:
                    raise
        raise ConflictError(f"conversation {scope[0]!r} kept changing during update")

    async def _delete_then_write(
        self, scope: tuple[str, str], segment_ids: list[str], head_operation: tuple[Any, ...]
    ) -> None:
        """Delete segments (oldest batches first) and apply `head_operation` in the last batch."""
        deletes = [("delete", (item_id,)) for item_id in segment_ids]
        size = docs.MAX_BATCH_OPERATIONS - 1
        while len(deletes) > size:
            await self._write_batch(scope, "delete", deletes[:size])
            deletes = deletes[size:]
        await self._write_batch(scope, "delete", [*deletes, head_operation])

    async def _create_in_batches(
        self, scope: tuple[str, str], batches: list[list[tuple[Any, ...]]]
    ) -> str | None:
        """Write `creation_batches` in order; returns the created head's etag.

        Over several batches, the segments are upserted before the head's create can fail on
        an existing conversation: refuse first, so that its segments are never overwritten.
        """
        if len(batches) > 1 and await self._exists(scope):
            raise ConflictError(f"conversation {scope[0]!r} already exists")
        results: list[dict[str, Any]] = []
        for batch in batches:
            results = await self._write_batch(scope, "create", batch)
        etag: str | None = results[-1].get("eTag")
        return etag

    async def _exists(self, scope: tuple[str, str]) -> bool:
        """Whether the head is stored, expired or not."""
        try:
            await self._sdk("create", scope, "read_item", scope[0], partition_key=scope[1])
        except ConversationNotFoundError:
            return False
        return True

    async def _replacement(
        self, scope: tuple[str, str], message_id: str, new: dict[str, Any] | None
    ) -> list[tuple[Any, ...]]:
        """Batch operations editing the message where it is now: in the head, or in a segment
        (then the head's counters change in the same batch). Raises MessageNotFoundError."""
        item = await self._read_head(scope)
        head, now = docs.upgraded_head(item), docs.now()
        operations = docs.replace_in_head(head, item["_etag"], message_id, new, self._limits, now)
        if operations is not None:
            return operations
        query = queries.segment_holding_query(scope[1], scope[0], message_id)
        for segment in await self._query(scope, "replace", query):
            operations = docs.replace_in_segment(head, item["_etag"], segment, message_id, new, now)
            if operations is not None:
                return operations
        raise MessageNotFoundError(scope[0], scope[1], message_id)

    async def _delete_items(self, scope: tuple[str, str], items: list[dict[str, Any]]) -> int:
        """Delete `items` of one partition in batches; returns how many were heads. A batch
        that finds an item gone (another writer deleted it) is skipped: the caller lists again."""
        heads = 0
        for batch in queries.deletion_batches(items, docs.MAX_BATCH_OPERATIONS):
            try:
                await self._write_batch(
                    scope, "delete", [("delete", (item["id"],)) for item in batch]
                )
            except ConversationNotFoundError:
                continue
            heads += sum(queries.is_head(item) for item in batch)
        return heads

    async def _write_batch(
        self, scope: tuple[str, str], operation: str, operations: Sequence[tuple[Any, ...]]
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = await self._sdk(
            operation,
            scope,
            "execute_item_batch",
            list(operations),
            partition_key=scope[1],
        )
        return results
