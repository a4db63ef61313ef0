"""The Azure Cosmos DB for NoSQL store (async): the one source of both Cosmos stores.

`scripts/unasync.py` generates the sync twin (`conversation_store.stores.cosmos.twin`) from this
file, and `conversation_store.stores.cosmos.store.CosmosStore` extends that twin with the
sync-only operator calls. Every decision (items, patches, queries, sizes) is in the pure modules
`items` and `queries`, every request crosses `boundary` (retries, errors, charges), and what
sync and async must do differently is in `conversation_store.aio.primitives`: this file only
performs the I/O, through one typed wrapper per SDK call.
Append = one conditional patch; sealing old messages into segments = one transactional batch.
Exactly once, generations and the delete order are explained in `items` and docs/reliability.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Self, TypeVar

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.cosmos.aio import ContainerProxy, CosmosClient

from conversation_store.aio import primitives
from conversation_store.decoding import messages_from_documents, readable
from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    InvalidInputError,
    MessageNotFoundError,
    StoreClosedError,
    StoreUnavailableError,
)
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
from conversation_store.search import search_terms
from conversation_store.stores.cosmos import items as docs
from conversation_store.stores.cosmos import queries
from conversation_store.stores.cosmos.boundary import (
    ChargeHook,
    ResponseHook,
    RetryPolicy,
    charge_reporter,
    is_closed_transport,
    spanning,
    translate,
)
from conversation_store.stores.cosmos.config import (
    DEFAULT_CONTAINER,
    DEFAULT_DATABASE,
    NO_DEFAULT_TTL,
    PARTITION_KEY,
    checked_credential,
    client_options,
)
from conversation_store.tracking import mark_saved
from conversation_store.validation import external_id_not_found

T = TypeVar("T")
Item = dict[str, Any]
# What a connect function returns: the container client and what it opened for it.
Connection = tuple[ContainerProxy, Sequence[primitives.Closable]]
_MAX_WRITE_RACES = 30  # optimistic (ETag) retries when writers race on one head


class CosmosStore:
    """Conversations in one Cosmos DB container partitioned by `/customer_id`.

    Thread-safe, and the async store works from any event loop: an async client belongs to
    the loop it was made on, so each loop gets its own, closed when that loop shuts down
    (`asyncio.run` ends) or by close(), which may run on any loop. The sync store has one
    client for every thread. The store keeps no per-conversation state.
    """

    def __init__(
        self,
        container: ContainerProxy | primitives.Function[[], Connection],
        *,
        limits: docs.SizeLimits | None = None,
        retry: RetryPolicy | None = None,
        on_charge: ChargeHook | None = None,
    ) -> None:
        """`container`: a container client (the caller's: it closes it, and an async one then
        serves only its own loop), or a function connecting one, returning it with what it
        opened for it, which this store closes. The function runs on first use in each event
        loop (once in the sync store), inside the retry and error-translation boundary: the
        sync CosmosClient reads the account on construction, which fails while Cosmos is down.
        """
        if isinstance(container, ContainerProxy):
            self._container_name = container.id
            container = _callers(container)
        else:
            self._container_name = "(not connected)"
        self._connections = primitives.PerLoop(container, owner="CosmosStore")
        self._limits = limits or docs.SizeLimits()
        self._retry = retry or RetryPolicy()
        self._on_charge = on_charge
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
    ) -> Self:
        """Open a client for `endpoint`. No credential: `DefaultAzureCredential` (managed identity).

        A key string is for the emulator and development only. `create_if_missing` creates the
        database and container before the first request (leave it off in production, where infra
        creates them), with TTL on (`default_ttl=-1`: nothing expires unless it has its own
        `ttl`), as infra/main.bicep creates it. `transport` replaces the HTTP transport (tests
        count or inject faults with it); `kwargs` go to the constructor. No I/O happens here, so
        it may run at import time of a Function app. The store makes its client, and its
        `DefaultAzureCredential`, once per event loop; a credential or transport passed in is
        shared by those clients and stays the caller's to close: closing a client, when its
        connection fails or at close(), leaves the transport open (an async one, like an async
        container client, then serves only the loop it first ran on).
        """
        credential = checked_credential(credential)
        lent = _CallersTransport(transport) if transport is not None else None

        async def open_container(client: CosmosClient) -> ContainerProxy:
            if create_if_missing:
                db = await client.create_database_if_not_exists(database)
                return await db.create_container_if_not_exists(
                    container, partition_key=PARTITION_KEY, default_ttl=NO_DEFAULT_TTL
                )
            return client.get_database_client(database).get_container_client(container)

        async def connect() -> Connection:
            opened: list[primitives.Closable] = []
            signer = credential
            if signer is None:
                # Imported here: azure-identity takes a fifth of the package's import time,
                # and a key or a credential passed in never needs it.
                from azure.identity.aio import DefaultAzureCredential

                signer = DefaultAzureCredential()
                opened.append(signer)
            try:
                client = CosmosClient(
                    endpoint,
                    credential=signer,
                    **client_options(connection_verify=connection_verify, transport=lent),
                )
                opened.insert(0, client)
                return await open_container(client), opened
            except BaseException:
                for resource in opened:
                    await resource.close()
                raise

        store = cls(connect, **kwargs)
        store._container_name = container
        return store

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"CosmosStore(container={self._container_name!r})"

    async def create_conversation(self, conversation: Conversation) -> Conversation:
        key = ConversationKey(conversation.customer_id, conversation.id)
        head, segments = docs.new_items(conversation, self._limits)
        claim = docs.external_id_claim(head) if conversation.external_id is not None else None
        try:
            if segments or claim:
                batches = docs.creation_batches(head, segments, claim)
                etag = await self._create_in_batches(key, batches)
            else:
                etag = (await self._create_item(key, head)).get("_etag")
        except ConflictError:
            if await self._remove_expired_head(key):
                return await self.create_conversation(conversation)
            if claim and await self._release_stale_claim(key, claim):
                return await self.create_conversation(conversation)
            etag = await self._own_head_etag(key, head)
        stored = docs.conversation_from_items(head, segments)
        mark_saved(stored, etag)
        return stored

    async def create_or_append(self, conversation: Conversation) -> None:
        """One create of the head with the messages in it; on 409, the append (one patch, so
        two requests). A conversation that needs segments or an external id claim, or an
        expired head under this id, takes the full create path."""
        key = ConversationKey(conversation.customer_id, conversation.id)
        head, segments = docs.new_items(conversation, self._limits)
        if not segments and conversation.external_id is None:
            try:
                await self._create_item(key, head)
                return
            except ConflictError:
                with contextlib.suppress(ConversationNotFoundError):  # an expired head
                    await self.append_messages(key, conversation.messages)
                    return
        try:
            await self.create_conversation(conversation)
        except ConflictError:
            try:
                await self.append_messages(key, conversation.messages)
            except ConversationNotFoundError:
                raise ConflictError(  # not this id: the external id is another's
                    f"external id {conversation.external_id!r} is already in use"
                ) from None

    async def get_conversation(
        self, key: ConversationKey, *, last: int | None = None
    ) -> Conversation:
        """The head, then the segments it needs. A read that a clear, replace or pop crossed
        (a segment of the head's generation gone or overwritten between the two reads) is
        read again, so that no reader sees a mix of two versions."""
        for _ in range(_MAX_WRITE_RACES):
            head = await self._read_head(key)
            segments, complete = await self._segments_of(key, head, last)
            if complete:
                break
        with readable(key):
            conversation = docs.conversation_from_items(head, segments, last=last)
        mark_saved(conversation, head.get("_etag"))
        return conversation

    async def append_messages(
        self, key: ConversationKey, messages: Sequence[Message]
    ) -> AppendResult:
        for chunk in docs.append_chunks(docs.message_documents(messages), self._limits):
            await self._append_chunk(key, chunk)
        return AppendResult(
            conversation_id=key.conversation_id, message_ids=[m.id for m in messages if m.id]
        )

    async def update_conversation(
        self, key: ConversationKey, update: HeaderUpdate, *, etag: str | None = None
    ) -> None:
        expected = etag
        for operations in docs.header_operations(update, docs.now()):
            predicate = docs.header_predicate(docs.epoch_seconds())
            try:
                await self._patch_item(key, "update", operations, predicate, etag=expected)
            except (ConflictError, InvalidInputError):
                # A seed document or an expired head (412 from the predicate), a metadata key
                # or ttl already removed (400), or a stale etag (412, re-checked there): rewrite
                # the head by ETag, after a read that also finds an expired head gone.
                await self._update_by_replace(key, update, etag)
                return
            expected = None  # the first patch checked the version; the next ones follow it

    async def list_conversations(
        self,
        customer_id: str,
        *,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
        where: ListFilter = NO_FILTER,
    ) -> Page[ConversationSummary]:
        position = queries.list_position(continuation, customer_id, archived, where)
        query = queries.list_query(customer_id, archived, where, docs.epoch_seconds())
        rows, token = await self._query_page(spanning(customer_id), "list", query, position, limit)
        return Page(
            items=[_summary(row) for row in rows],
            continuation=queries.list_continuation(customer_id, archived, where, token),
        )

    async def get_conversation_by_external_id(
        self, customer_id: str, external_id: str, *, last: int | None = None
    ) -> Conversation:
        """One query in the customer's partition, matching the external id's text as a
        parameter, then the load of what it found."""
        query = queries.external_id_query(customer_id, external_id, docs.epoch_seconds())
        found = await self._query(spanning(customer_id), "lookup", query)
        if not found:
            raise external_id_not_found(customer_id, external_id)
        return await self.get_conversation(
            ConversationKey(customer_id, str(found[0]["id"])), last=last
        )

    async def delete_conversation(self, key: ConversationKey) -> None:
        """The head first, then its generation's segments: a seal racing the delete either
        committed before it (its segments are listed after) or fails on the head's ETag. What
        a crash or an outage leaves is dead (no head) and swept by `delete_orphans`."""
        try:
            head = await self._read_any_head(key)
        except ConversationNotFoundError:
            return
        # Not found: a retry whose first attempt landed, or a concurrent delete.
        with contextlib.suppress(ConversationNotFoundError):
            await self._delete_item(key, key.conversation_id)
        if isinstance(head.get("external_id"), str):
            await self._release_own_claim(key, head["external_id"])
        if int(head.get("segment_count", 0)):
            await self._delete_dead_segments(key, docs.generation_of(head))

    async def search_messages(self, customer_id: str, *, query: str, limit: int) -> list[SearchHit]:
        """One query over the customer's heads and segments (plus one per 100 conversations
        whose segments matched, for their titles and to skip those whose head is gone)."""
        terms = search_terms(query)
        key = spanning(customer_id)
        now = docs.epoch_seconds()
        candidates = await self._query(key, "search", queries.search_query(customer_id, terms, now))
        rows = queries.confirmed(candidates, terms)
        heads: dict[str, tuple[str | None, str]] = {}
        for ids in queries.segment_conversation_ids(rows):
            titles_query = queries.titles_query(customer_id, ids, now)
            heads.update(queries.live_heads(await self._query(key, "search", titles_query)))
        return queries.search_hits(rows, heads, terms, limit)

    async def replace_message(
        self, key: ConversationKey, message_id: str, message: Message | None
    ) -> None:
        new = docs.message_documents([message])[0] if message is not None else None
        for race in range(_MAX_WRITE_RACES):
            operations = await self._replacement(key, message_id, new)
            try:
                await self._execute_item_batch(key, "replace", operations)
                return
            except (ConflictError, ConversationNotFoundError):
                # Another writer changed the head or segment (412), or a clear removed the
                # segment (404): look again; a head that is gone raises on the next read.
                await primitives.sleep(docs.race_backoff(race))
        raise ConflictError(f"conversation {key.conversation_id!r} kept changing during an edit")

    async def clear_messages(self, key: ConversationKey) -> None:
        """One ETag-checked replace of the head, in a new generation (its segments are dead at
        once), then the old generation's segments are deleted."""
        previous = await self._clear_head(key, docs.new_generation())
        if int(previous.get("segment_count", 0)):
            await self._delete_dead_segments(key, docs.generation_of(previous))

    async def pop_messages(self, key: ConversationKey, n: int) -> list[Message]:
        """A read and one ETag-checked replace of the head when it holds the messages; when
        they reach into the segments, the conversation is read whole and rewritten without
        them in a new generation (as replace_messages). The head remembers the pop's
        `write_id`, so a retry whose first attempt landed returns what it took, once."""
        write_id = docs.new_generation()
        popped: list[Item] | None = None
        for race in range(_MAX_WRITE_RACES):
            item = await self._read_head(key)
            if popped is not None and item.get("write_id") == write_id:
                with readable(key):
                    return messages_from_documents(popped)
            result = docs.popped_head(docs.upgraded_head(item), n, write_id, docs.now())
            if result is None:
                return await self._pop_across_segments(key, n, item)
            new_head, popped = result
            if not popped:
                return []
            with readable(key):  # before the write: an unreadable message is not popped
                messages = messages_from_documents(popped)
            try:
                await self._replace_item(key, "pop", new_head, etag=item["_etag"])
                return messages
            except ConflictError:
                await primitives.sleep(docs.race_backoff(race))
        raise ConflictError(f"conversation {key.conversation_id!r} kept changing during pop")

    async def replace_messages(self, key: ConversationKey, messages: Sequence[Message]) -> None:
        """The new messages' segments, then one ETag-checked replace of the head in a new
        generation (its old segments are dead at once), in transactional batches (most
        replacements: one); then the old generation's segments are deleted."""
        documents = docs.message_documents(messages)
        await self._rewrite(key, lambda _: documents)

    async def delete_customer(self, customer_id: str) -> int:
        """Lists and deletes until nothing is left (one more query confirms it), so items that
        a concurrent writer added meanwhile go too."""
        key = spanning(customer_id)
        deleted = 0
        for _ in range(_MAX_WRITE_RACES):
            found = await self._query(key, "delete", queries.customer_items_query(customer_id))
            if not found:
                return deleted
            deleted += await self._delete_items(key, found)
        raise ConflictError(f"the items of customer {customer_id!r} kept changing during delete")

    async def put_share_link(self, link: ShareLink) -> None:
        """One upsert of the link's item, in its own `_share:<token hash>` partition."""
        item = docs.share_item(link, docs.epoch_seconds())
        await self._upsert_item(self._share_key(link.token_hash), "share", item)

    async def get_share_link(self, token_hash: str) -> ShareLink | None:
        """One point read; an expired link is None (the local server does not expire items)."""
        try:
            item = await self._read_item(self._share_key(token_hash), "share", token_hash)
        except ConversationNotFoundError:
            return None
        return docs.share_link_from_item(item, docs.epoch_seconds())

    async def delete_share_link(self, token_hash: str) -> None:
        try:
            await self._delete_item(self._share_key(token_hash), token_hash)
        except ConversationNotFoundError:
            return

    def check_message_sizes(self, messages: Sequence[Message]) -> None:
        """Raises InvalidInputError for a message over Cosmos DB's bound of one message."""
        docs.message_documents(messages)

    async def close(self) -> None:
        """Close every client this store made (on every event loop). Idempotent; later calls
        raise StoreClosedError."""
        if not self._closed:
            self._closed = True
            await self._connections.close()

    # -- the boundary: every request is retried, charged and translated here ---------------

    @staticmethod
    def _share_key(token_hash: str) -> ConversationKey:
        """The key of a share link's item (its partition and id), as errors name it."""
        return ConversationKey(docs.share_partition(token_hash), token_hash)

    async def _call(self, key: ConversationKey, send: primitives.Function[[], T]) -> T:
        """Run `send` under the retry policy; translate its final SDK error, naming `key`."""
        if self._closed:
            raise StoreClosedError("CosmosStore is closed")
        try:
            return await self._retry.async_retrying()(send)
        except AzureError as exc:
            raise translate(exc, key) from exc
        except ValueError as exc:
            if not is_closed_transport(exc):  # any other ValueError is a bug, not a fault
                raise
            raise translate(exc, key) from exc

    async def _request(
        self,
        key: ConversationKey,
        operation: str,
        request: primitives.Function[[ContainerProxy, ResponseHook], T],
    ) -> T:
        """`_call` for one SDK request on the container, reporting its charge as `operation`."""
        hook = charge_reporter(self._on_charge, operation)

        async def send() -> T:
            return await request(await self._proxy(), hook)

        return await self._call(key, send)

    async def _proxy(self) -> ContainerProxy:
        """This event loop's container client, connecting first if it has none yet."""
        return await self._connections.get()

    # -- one typed wrapper per SDK call ------------------------------------------------------

    async def _read_item(self, key: ConversationKey, operation: str, item_id: str) -> Item:
        return await self._request(
            key,
            operation,
            lambda container, hook: container.read_item(
                item_id, partition_key=key.customer_id, response_hook=hook
            ),
        )

    async def _create_item(self, key: ConversationKey, body: Item) -> Item:
        return await self._request(
            key, "create", lambda container, hook: container.create_item(body, response_hook=hook)
        )

    async def _upsert_item(self, key: ConversationKey, operation: str, body: Item) -> None:
        await self._request(
            key,
            operation,
            lambda container, hook: container.upsert_item(
                body, no_response=True, response_hook=hook
            ),
        )

    async def _delete_item(
        self, key: ConversationKey, item_id: str, *, etag: str | None = None
    ) -> None:
        """Delete the item; with `etag`, only if it is still at that version."""
        condition = None if etag is None else MatchConditions.IfNotModified
        await self._request(
            key,
            "delete",
            lambda container, hook: container.delete_item(
                item_id,
                partition_key=key.customer_id,
                etag=etag,
                match_condition=condition,
                response_hook=hook,
            ),
        )

    async def _patch_item(
        self,
        key: ConversationKey,
        operation: str,
        operations: list[dict[str, Any]],
        predicate: str,
        *,
        etag: str | None = None,
    ) -> None:
        """Patch the head if `predicate` holds (and it is at `etag`), with no response body."""
        condition: dict[str, Any] = (
            {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        )
        await self._request(
            key,
            operation,
            lambda container, hook: container.patch_item(
                key.conversation_id,
                key.customer_id,
                patch_operations=operations,
                filter_predicate=predicate,
                no_response=True,
                response_hook=hook,
                **condition,
            ),
        )

    async def _replace_item(
        self, key: ConversationKey, operation: str, body: Item, *, etag: str
    ) -> None:
        """Replace the head if it is still at `etag`, with no response body."""
        await self._request(
            key,
            operation,
            lambda container, hook: container.replace_item(
                key.conversation_id,
                body,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
                no_response=True,
                response_hook=hook,
            ),
        )

    async def _execute_item_batch(
        self, key: ConversationKey, operation: str, operations: Sequence[tuple[Any, ...]]
    ) -> list[Item]:
        """One transactional batch in the key's partition; the results of its operations."""
        return await self._request(
            key,
            operation,
            lambda container, hook: container.execute_item_batch(
                list(operations), partition_key=key.customer_id, response_hook=hook
            ),
        )

    async def _query_items(
        self, key: ConversationKey, operation: str, query: queries.Query
    ) -> AsyncIterator[list[Item]]:
        """The query's results page by page, each page fetched under the retry policy."""
        where: dict[str, Any] = (
            {"partition_key": query.partition_key}
            if query.partition_key is not None
            else {"enable_cross_partition_query": True}
        )

        async def open_pages(
            container: ContainerProxy, hook: ResponseHook
        ) -> AsyncIterator[AsyncIterator[Item]]:
            return container.query_items(
                query.text, parameters=query.parameters, response_hook=hook, **where
            ).by_page()

        # Not a lambda: AsyncRetrying awaits only what a coroutine function returns.
        async def next_page() -> list[Item] | None:
            return await primitives.next_page(pages)

        pages = await self._request(key, operation, open_pages)
        while (page := await self._call(key, next_page)) is not None:
            yield page

    async def _query_page(
        self,
        key: ConversationKey,
        operation: str,
        query: queries.Query,
        position: str | None,
        size: int,
    ) -> tuple[list[Item], str | None]:
        """One page of `query` from `position` (an SDK continuation) and the position after it."""

        async def read(
            container: ContainerProxy, hook: ResponseHook
        ) -> tuple[list[Item], str | None]:
            pages = container.query_items(
                query.text,
                parameters=query.parameters,
                partition_key=query.partition_key,
                max_item_count=size,
                response_hook=hook,
            ).by_page(position)
            rows = await primitives.next_page(pages)
            return rows or [], getattr(pages, "continuation_token", None)

        return await self._request(key, operation, read)

    # -- reads and writes made of those calls ------------------------------------------------

    async def _read_head(self, key: ConversationKey) -> Item:
        """The head as stored; an expired one is not found."""
        item = await self._read_any_head(key)
        if docs.head_expired(item, docs.epoch_seconds()):
            raise ConversationNotFoundError(key.conversation_id, key.customer_id)
        return item

    async def _read_any_head(self, key: ConversationKey) -> Item:
        """The head as stored, expired or not; an internal item under that id (a segment,
        which a public id can never name anyway) is not found."""
        item = await self._read_item(key, "read", key.conversation_id)
        if not docs.is_head_item(item):
            raise ConversationNotFoundError(key.conversation_id, key.customer_id)
        return item

    async def _query(
        self, key: ConversationKey, operation: str, query: queries.Query
    ) -> list[Item]:
        return [item async for page in self._query_items(key, operation, query) for item in page]

    async def _delete_dead_segments(self, key: ConversationKey, generation: str) -> None:
        """Delete the segments of `generation` (no longer the head's), listing again until none
        is left. Best effort: the delete or clear has landed, and what an outage leaves here is
        invisible and swept by `delete_orphans`."""
        query = queries.segment_ids_query(key)
        try:
            for _ in range(_MAX_WRITE_RACES):
                found = await self._query(key, "delete", query)
                dead = [s for s in found if docs.generation_of(s) == generation]
                if not dead:
                    return
                await self._delete_items(key, dead)
        except StoreUnavailableError:
            return

    async def _segments_of(
        self, key: ConversationKey, head: Item, last: int | None
    ) -> tuple[list[Item], bool]:
        """The segments a load of `last` (None: all) messages needs, and whether every one of
        them was found in the head's generation."""
        if last is not None:
            return await self._newest_segments(key, head, last)
        expected = docs.live_segment_count(head)
        if not expected:
            return [], True
        found = docs.of_generation(
            await self._query(key, "load", queries.segments_query(key)), head
        )
        return found, len(found) == expected

    async def _newest_segments(
        self, key: ConversationKey, head: Item, last: int
    ) -> tuple[list[Item], bool]:
        """Point-read segments newest first until `last` messages are at hand; and whether
        none was missing (removed or overwritten by a clear, replace or delete under way)."""
        have = docs.head_messages_available(head)
        segments: list[Item] = []
        complete = True
        first = int(head.get("first_segment", 0))
        for number in range(int(head.get("segment_count", 0)) - 1, first - 1, -1):
            if have >= last:
                break
            segment_id = docs.segment_id(key.conversation_id, number)
            try:
                segment = await self._read_item(key, "read", segment_id)
            except ConversationNotFoundError:
                complete = False
                continue
            if docs.generation_of(segment) != docs.generation_of(head):
                complete = False
                continue
            segments.append(segment)
            have += len(segment["messages"])
        return segments, complete

    async def _append_chunk(self, key: ConversationKey, chunk: list[Item]) -> None:
        """One conditional patch. If it fails (412), the head is full, the messages are already
        there (a retried request), or another writer sealed first: re-read and patch again,
        or seal the oldest messages into segments, racing other writers by ETag. A chunk too
        big for any head skips the patch: its seal puts it in a segment of its own."""
        for race in range(_MAX_WRITE_RACES):
            if docs.fits_patch(chunk, self._limits):
                operations = docs.append_operations(chunk, docs.now())
                predicate = docs.append_predicate(chunk, self._limits, docs.epoch_seconds())
                try:
                    await self._patch_item(key, "append", operations, predicate)
                    return
                except ConflictError:
                    pass
            item = await self._read_head(key)
            head = docs.upgraded_head(item)
            chunk = docs.missing_messages(head, chunk)
            if not chunk:
                return
            if docs.has_room(item, chunk, self._limits):
                continue  # another writer sealed meanwhile: the patch fits now
            batch, sealed_all = docs.append_seal(head, chunk, item["_etag"], self._limits)
            try:
                await self._execute_item_batch(key, "append", batch)
                if sealed_all:
                    return
            except ConflictError:
                await primitives.sleep(docs.race_backoff(race))
        raise ConflictError(f"conversation {key.conversation_id!r} kept changing during append")

    async def _update_by_replace(
        self, key: ConversationKey, update: HeaderUpdate, etag: str | None
    ) -> None:
        for _ in range(_MAX_WRITE_RACES):
            item = await self._read_head(key)
            if etag is not None and item["_etag"] != etag:
                raise ConflictError(
                    f"conversation {key.conversation_id!r} changed since it was read"
                )
            body = docs.updated_head(docs.upgraded_head(item), update, docs.now())
            try:
                await self._replace_item(key, "update", body, etag=item["_etag"])
                return
            except ConflictError:
                if etag is not None:
                    raise
        raise ConflictError(f"conversation {key.conversation_id!r} kept changing during update")

    async def _clear_head(self, key: ConversationKey, generation: str) -> Item:
        """Replace the head by an empty one of `generation`, racing other writers by ETag;
        returns the head it replaced. A retry whose first attempt landed finds `generation`
        already there: the clear happened, and is reported so."""
        replaced: Item | None = None
        for _ in range(_MAX_WRITE_RACES):
            item = await self._read_head(key)
            if replaced is not None and docs.generation_of(item) == generation:
                return replaced
            replaced = item
            cleared = docs.cleared_head(docs.upgraded_head(item), generation, docs.now())
            try:
                await self._replace_item(key, "clear", cleared, etag=item["_etag"])
                return item
            except ConflictError:
                continue
        raise ConflictError(f"conversation {key.conversation_id!r} kept changing during clear")

    async def _pop_across_segments(self, key: ConversationKey, n: int, head: Item) -> list[Message]:
        """Pop by rewriting the whole conversation (whose head was just read as `head`)
        without its `n` newest messages."""
        popped: list[Item] = []

        def rest(messages: list[Item]) -> list[Item]:
            popped[:] = messages[len(messages) - min(n, len(messages)) :]
            return messages[: len(messages) - len(popped)]

        await self._rewrite(key, rest, head)
        return messages_from_documents(popped)

    async def _rewrite(
        self,
        key: ConversationKey,
        change: Callable[[list[Item]], list[Item]],
        head: Item | None = None,
    ) -> None:
        """Give the conversation the messages `change` makes of all its current ones, in a
        new generation, racing other writers by the head's ETag (starting from `head`, if
        just read). A retry whose first attempt landed finds its generation there: done.
        `change` may run more than once."""
        generation = docs.new_generation()
        for race in range(_MAX_WRITE_RACES):
            item = head if head is not None and race == 0 else await self._read_head(key)
            segments = (
                await self._query(key, "replace", queries.segments_query(key))
                if int(item.get("segment_count", 0))
                else []
            )
            with readable(key):
                stored = docs.conversation_from_items(item, segments)
            current = docs.message_documents(stored.messages)
            batches = docs.replacement_batches(
                docs.upgraded_head(item),
                item["_etag"],
                change(current),
                generation,
                self._limits,
                docs.now(),
            )
            try:
                for batch in batches:
                    await self._execute_item_batch(key, "replace", batch)
            except ConflictError:
                if docs.generation_of(await self._read_head(key)) == generation:
                    return  # it landed; only its answer was lost
                if len(batches) > 1:  # segments written ahead of a head that did not take them
                    await self._delete_dead_segments(key, generation)
                await primitives.sleep(docs.race_backoff(race))
                continue
            if segments:
                await self._delete_dead_segments(key, docs.generation_of(item))
            return
        raise ConflictError(f"conversation {key.conversation_id!r} kept changing during replace")

    async def _remove_expired_head(self, key: ConversationKey) -> bool:
        """Delete the head under this id if its ttl ran out but the service has not purged it
        yet (it reads as gone, so a create of the same id must succeed); False if there is
        none. Its segments are of an older generation: dead, and swept by delete_orphans."""
        try:
            item = await self._read_any_head(key)
        except ConversationNotFoundError:
            return False
        if not docs.head_expired(item, docs.epoch_seconds()):
            return False
        await self._delete_item(key, key.conversation_id, etag=item["_etag"])
        return True

    async def _release_stale_claim(self, key: ConversationKey, claim: Item) -> bool:
        """Delete the stored claim of `claim`'s external id if it is stale
        (`items.is_stale_claim`), so that a create retried now may claim it; False when there
        is none or it still holds."""
        claim_key = ConversationKey(key.customer_id, claim["id"])
        try:
            stored = await self._read_item(claim_key, "create", claim["id"])
        except ConversationNotFoundError:
            return False
        holder: Item | None
        try:
            holder_key = ConversationKey(key.customer_id, str(stored.get("conversation_id")))
            holder = await self._read_any_head(holder_key)
        except ConversationNotFoundError:
            holder = None
        if not docs.is_stale_claim(stored, holder, docs.epoch_seconds()):
            return False
        # Gone or changed meanwhile: another create released or took it; the retry tells.
        with contextlib.suppress(ConversationNotFoundError, ConflictError):
            await self._delete_item(claim_key, claim["id"], etag=stored["_etag"])
        return True

    async def _release_own_claim(self, key: ConversationKey, external_id: str) -> None:
        """Delete the claim of a deleted conversation's external id, unless it is another
        conversation's by now. Best effort: a claim left behind is stale, and released by
        the next create of that external id."""
        claim_id = docs.external_id_claim_id(external_id)
        claim_key = ConversationKey(key.customer_id, claim_id)
        try:
            stored = await self._read_item(claim_key, "delete", claim_id)
            if stored.get("conversation_id") == key.conversation_id:
                await self._delete_item(claim_key, claim_id, etag=stored["_etag"])
        except (ConversationNotFoundError, ConflictError, StoreUnavailableError):
            return

    async def _own_head_etag(self, key: ConversationKey, head: Item) -> str | None:
        """The etag of the head a create wrote, when a create that reported a conflict finds
        its own generation stored (its first attempt landed, only the response was lost).
        Raises ConflictError when the conversation is another one."""
        try:
            item: Item | None = await self._read_any_head(key)
        except ConversationNotFoundError:
            item = None
        if item is None or docs.generation_of(item) != head["generation"]:
            raise ConflictError(f"conversation {key.conversation_id!r} already exists")
        etag: str | None = item.get("_etag")
        return etag

    async def _create_in_batches(
        self, key: ConversationKey, batches: list[list[tuple[Any, ...]]]
    ) -> str | None:
        """Write `creation_batches` in order; returns the created head's etag.

        Over several batches, the segments are upserted before the head's create can fail on
        an existing conversation: refuse first, so that its segments are never overwritten.
        """
        if len(batches) > 1 and await self._exists(key):
            raise ConflictError(f"conversation {key.conversation_id!r} already exists")
        results: list[Item] = []
        for batch in batches:
            results = await self._execute_item_batch(key, "create", batch)
        etag: str | None = results[-1].get("eTag")
        return etag

    async def _exists(self, key: ConversationKey) -> bool:
        """Whether the head is stored, expired or not."""
        try:
            await self._read_item(key, "create", key.conversation_id)
        except ConversationNotFoundError:
            return False
        return True

    async def _replacement(
        self, key: ConversationKey, message_id: str, new: Item | None
    ) -> list[tuple[Any, ...]]:
        """Batch operations editing the message where it is now: in the head, or in a segment
        (then the head's counters change in the same batch). Raises MessageNotFoundError."""
        item = await self._read_head(key)
        head, now = docs.upgraded_head(item), docs.now()
        operations = docs.replace_in_head(head, item["_etag"], message_id, new, self._limits, now)
        if operations is not None:
            return operations
        query = queries.segment_holding_query(key, message_id)
        for segment in docs.of_generation(await self._query(key, "replace", query), head):
            operations = docs.replace_in_segment(head, item["_etag"], segment, message_id, new, now)
            if operations is not None:
                return operations
        raise MessageNotFoundError(key.conversation_id, key.customer_id, message_id)

    async def _delete_items(self, key: ConversationKey, items: list[Item]) -> int:
        """Delete `items` of one partition in batches; returns how many were heads. A batch
        that finds an item gone (another writer deleted it) or changed since it was listed
        (412: a new generation's seal took its id) is skipped: the caller lists again."""
        heads = 0
        for batch in queries.deletion_batches(items, docs.MAX_BATCH_OPERATIONS):
            deletes = [docs.delete_operation(item) for item in batch]
            try:
                await self._execute_item_batch(key, "delete", deletes)
            except (ConversationNotFoundError, ConflictError):
                continue
            heads += sum(queries.is_head(item) for item in batch)
        return heads


class _CallersTransport(AsyncHttpTransport[Any, Any]):
    """The caller's transport, lent to every client the store makes: closing a client leaves it
    open, for the caller to close (azure-storage lends its transport to child clients alike)."""

    def __init__(self, transport: AsyncHttpTransport[Any, Any]) -> None:
        self._transport = transport

    async def send(self, request: Any, **kwargs: Any) -> Any:
        return await self._transport.send(request, **kwargs)

    async def open(self) -> None:
        await self._transport.open()

    async def close(self) -> None:
        """Nothing: the transport is the caller's."""

    async def __aexit__(self, *exc_info: object) -> None:
        """Nothing: the transport is the caller's."""


def _callers(container: ContainerProxy) -> primitives.Function[[], Connection]:
    """A connect function handing out the caller's container client, which the caller closes."""

    async def connect() -> Connection:
        return container, ()

    return connect


def _summary(row: Item) -> ConversationSummary:
    """A listed head as a summary; one changed by hand is an InvalidInputError naming it."""
    with readable(ConversationKey(str(row.get("customer_id")), str(row.get("id")))):
        return ConversationSummary.model_validate(row)
