"""The Azure Cosmos DB for NoSQL store (sync). Its twin is `conversation_store.aio.CosmosStore`.

Both share every decision (documents, patches, queries, sizes, errors, retries) with
`documents.py`, `cosmos_errors.py` and `retrying.py`; this file only performs the I/O.
Append = one conditional patch; sealing old messages into segments = one transactional batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import HttpTransport
from azure.cosmos import ContainerProxy, CosmosClient
from azure.identity import DefaultAzureCredential

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
        container: ContainerProxy | Callable[[], ContainerProxy],
        *,
        limits: docs.SizeLimits | None = None,
        retry: RetryPolicy | None = None,
        on_charge: ChargeHook | None = None,
        owned: Sequence[Any] = (),
        orphan_grace_seconds: float = docs.ORPHAN_GRACE_SECONDS,
    ) -> None:
        # A factory connects on first use, inside the retry and error-translation boundary:
        # CosmosClient reads the account on construction, which fails while Cosmos is down.
        self._container = container if isinstance(container, ContainerProxy) else None
        self._connect = None if isinstance(container, ContainerProxy) else container
        self._connect_lock = threading.Lock()
        self._container_name = self._container.id if self._container else "(not connected)"
        self._limits = limits or docs.SizeLimits()
        self._retry = retry or RetryPolicy()
        self._on_charge = on_charge
        self._owned = list(owned)  # what this store created and must close
        self._orphan_grace_seconds = orphan_grace_seconds
        self._closed = False

    @classmethod
    def from_endpoint(
        cls,
        endpoint: str,
        *,
        credential: str | TokenCredential | None = None,
        database: str = DEFAULT_DATABASE,
        container: str = DEFAULT_CONTAINER,
        create_if_missing: bool = False,
        connection_verify: bool = True,
        transport: HttpTransport[Any, Any] | None = None,
        **kwargs: Any,
    ) -> CosmosStore:
        """Open a client for `endpoint`. No credential: `DefaultAzureCredential` (managed identity).

        A key string is for the emulator and development only. `create_if_missing` creates the
        database and container (leave it off in production, where infra creates them).
        The container it creates has TTL on (`default_ttl=-1`: nothing expires unless it has
        its own `ttl`), as infra/main.bicep creates it.
        `transport` replaces the HTTP transport (tests count or inject faults with it).
        """
        owned: list[Any] = []
        credential = checked_credential(credential)
        if credential is None:
            credential = DefaultAzureCredential()
            owned.append(credential)

        def connect() -> ContainerProxy:
            client = CosmosClient(
                endpoint,
                credential=credential,
                **client_options(connection_verify=connection_verify, transport=transport),
            )
            owned.insert(0, client)
            if create_if_missing:
                db = client.create_database_if_not_exists(database)
                return db.create_container_if_not_exists(
                    container, partition_key=PARTITION_KEY, default_ttl=NO_DEFAULT_TTL
                )
            return client.get_database_client(database).get_container_client(container)

        store = cls(connect, owned=owned, **kwargs)
        store._container_name = container
        return store

    def __enter__(self) -> CosmosStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CosmosStore(container={self._container_name!r})"

    def create_conversation(self, conversation: Conversation) -> Conversation:
        head, segments = docs.new_items(conversation, self._limits)
        scope = (conversation.id, conversation.customer_id)
        if segments:
            etag = self._create_in_batches(scope, docs.creation_batches(head, segments))
        else:
            created = self._sdk("create", scope, "create_item", head)
            etag = created.get("_etag")
        stored = docs.conversation_from_items(head, segments)
        mark_saved(stored, etag)
        return stored

    def get_conversation(
        self, *, customer_id: str, conversation_id: str, last: int | None = None
    ) -> Conversation:
        scope = (conversation_id, customer_id)
        head = self._read_head(scope)
        count = int(head.get("segment_count", 0))
        if last is None:
            query = queries.segments_query(customer_id, conversation_id)
            segments = self._query(scope, "load", query) if count else []
        else:
            segments = self._newest_segments(scope, head, last)
        conversation = docs.conversation_from_items(head, segments, last=last)
        mark_saved(conversation, head.get("_etag"))
        return conversation

    def append_messages(
        self, *, customer_id: str, conversation_id: str, messages: Sequence[Message]
    ) -> AppendResult:
        scope = (conversation_id, customer_id)
        pending = docs.message_documents(messages)
        for start in range(0, len(pending), docs.MESSAGES_PER_PATCH):
            self._append_chunk(scope, pending[start : start + docs.MESSAGES_PER_PATCH])
        return AppendResult(
            conversation_id=conversation_id, message_ids=[m.id for m in messages if m.id]
        )

    def update_conversation(
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
                self._sdk(
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
                self._update_by_replace(scope, update, etag)
                return
            condition = {}

    def clear_messages(self, *, customer_id: str, conversation_id: str) -> None:
        scope = (conversation_id, customer_id)
        for _ in range(_MAX_WRITE_RACES):
            head = self._read_head(scope)
            segment_ids = self._segment_ids(scope)
            cleared = docs.cleared_head(head, docs.now())
            try:
                self._delete_then_write(
                    scope,
                    segment_ids,
                    ("replace", (conversation_id, cleared), {"if_match_etag": head["_etag"]}),
                )
                return
            except ConflictError:
                continue
        raise ConflictError(f"conversation {conversation_id!r} kept changing during clear")

    def list_conversations(
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

        def first_page() -> tuple[list[dict[str, Any]], str | None]:
            pager = (
                self._proxy()
                .query_items(
                    query.text,
                    parameters=query.parameters,
                    partition_key=customer_id,
                    max_item_count=limit,
                    response_hook=charge_reporter(self._on_charge, "list"),
                )
                .by_page(position)
            )  # an ItemPaged page iterator: has continuation_token
            items = list(next(pager, []))
            return items, getattr(pager, "continuation_token", None)

        items, token = self._call("list", scope, first_page)
        summaries = [ConversationSummary.model_validate(item) for item in items]
        return Page(
            items=summaries, continuation=queries.list_continuation(customer_id, archived, token)
        )

    def delete_conversation(self, *, customer_id: str, conversation_id: str) -> None:
        scope = (conversation_id, customer_id)
        try:
            self._delete_then_write(scope, self._segment_ids(scope), ("delete", (conversation_id,)))
        except ConversationNotFoundError:
            return

    def search_messages(self, *, customer_id: str, query: str, limit: int) -> list[SearchHit]:
        """One query over the customer's heads and segments (plus one per 100 conversations
        whose segments matched, for their titles and to skip those whose head is gone)."""
        terms = search_terms(query)
        scope = ("*", customer_id)
        now = docs.epoch_seconds()
        candidates = self._query(scope, "search", queries.search_query(customer_id, terms, now))
        rows = queries.confirmed(candidates, terms)
        titles: dict[str, str | None] = {}
        for ids in queries.segment_conversation_ids(rows):
            for head in self._query(scope, "search", queries.titles_query(customer_id, ids, now)):
                titles[head["id"]] = head.get("title")
        return queries.search_hits(rows, titles, terms, limit)

    def replace_message(
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
            operations = self._replacement(scope, message_id, new)
            try:
                self._write_batch(scope, "replace", operations)
                return
            except (ConflictError, ConversationNotFoundError):
                # Another writer changed the head or segment (412), or a clear removed the
                # segment (404): look again; a head that is gone raises on the next read.
                time.sleep(docs.race_backoff(race))
        raise ConflictError(f"conversation {conversation_id!r} kept changing during an edit")

    def delete_customer(self, *, customer_id: str) -> int:
        """Lists and deletes until nothing is left (one more query confirms it), so items that
        a concurrent writer added meanwhile go too."""
        scope = ("*", customer_id)
        deleted = 0
        for _ in range(_MAX_WRITE_RACES):
            items = self._query(scope, "delete", queries.customer_items_query(customer_id))
            if not items:
                return deleted
            deleted += self._delete_items(scope, items)
        raise ConflictError(f"the items of customer {customer_id!r} kept changing during delete")

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        scope = ("*", customer_id or "*")
        for page in self._pages(scope, "scan", queries.scan_query(customer_id, updated_before)):
            yield from (ConversationSummary.model_validate(item) for item in page)

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        """Three queries: the messages of live heads, the live heads, and the segments' messages
        (counted when their head is live). No GROUP BY: not every Cosmos-compatible server has
        it, and a day's count is cheap to add up here."""
        scope = ("*", customer_id or "*")
        now = docs.epoch_seconds()
        days: dict[str, int] = {}
        for page in self._pages(scope, "count", queries.head_days_query(customer_id, now)):
            queries.count_head_days(days, page)
        live = {
            (head["customer_id"], head["id"])
            for page in self._pages(scope, "count", queries.live_heads_query(customer_id, now))
            for head in page
        }
        for page in self._pages(scope, "count", queries.segment_days_query(customer_id)):
            queries.count_segment_days(days, page, live)
        return days

    def delete_orphans(self, *, customer_id: str | None = None) -> int:
        """Two queries (segments written more than `orphan_grace_seconds` ago, then the heads)
        and a batch per 100 orphaned segments. The grace spares a large create in progress,
        which writes its segments before its head."""
        scope = ("*", customer_id or "*")
        written_before = docs.epoch_seconds() - int(self._orphan_grace_seconds)
        segments = self._query(
            scope, "cleanup", queries.old_segments_query(customer_id, written_before)
        )
        if not segments:
            return 0
        heads = self._query(scope, "cleanup", queries.head_ids_query(customer_id))
        conversations = 0
        for customer, items in queries.orphans(segments, heads).items():
            self._delete_items(("*", customer), items)
            conversations += len({item["conversation_id"] for item in items})
        return conversations

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for resource in self._owned:
                resource.close()

    # -- internals --------------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        scope: tuple[str, str],
        fn: Callable[..., T],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """Run `fn` under the retry policy; translate its final SDK error. scope: (id, customer)."""
        if self._closed:
            raise StoreClosedError("CosmosStore is closed")
        try:
            return self._retry.retrying()(fn, *args, **kwargs)
        except AzureError as exc:
            raise translate(exc, conversation_id=scope[0], customer_id=scope[1]) from exc

    def _proxy(self) -> ContainerProxy:
        """The container client, connecting first if this store has not yet."""
        with self._connect_lock:
            if self._container is None:
                assert self._connect is not None
                self._container = self._connect()
            return self._container

    def _sdk(
        self,
        operation: str,
        scope: tuple[str, str],
        method: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """`_call` for one SDK request, reporting its charge."""
        hook = charge_reporter(self._on_charge, operation)

        def send() -> Any:
            result: Any = getattr(self._proxy(), method)(*args, response_hook=hook, **kwargs)
            return result

        return self._call(operation, scope, send)

    def _read_head(self, scope: tuple[str, str]) -> dict[str, Any]:
        """The head as stored; an expired one is not found."""
        item: dict[str, Any] = self._sdk(
            "read", scope, "read_item", scope[0], partition_key=scope[1]
        )
        if docs.head_expired(item, docs.epoch_seconds()):
            raise ConversationNotFoundError(scope[0], scope[1])
        return item

    def _pages(
        self, scope: tuple[str, str], operation: str, query: queries.Query
    ) -> Iterator[list[Any]]:
        """The query's results page by page, each page fetched under the retry policy."""
        where: dict[str, Any] = (
            {"partition_key": query.partition_key}
            if query.partition_key is not None
            else {"enable_cross_partition_query": True}
        )

        def open_pages() -> Iterator[Iterator[Any]]:
            return (
                self._proxy()
                .query_items(
                    query.text,
                    parameters=query.parameters,
                    response_hook=charge_reporter(self._on_charge, operation),
                    **where,
                )
                .by_page()
            )

        def next_page(pages: Iterator[Iterator[Any]]) -> list[Any] | None:
            # The SDK advances its position only after a page arrived: a retry asks again.
            page = next(pages, None)
            return None if page is None else list(page)

        pages = self._call(operation, scope, open_pages)
        while (page := self._call(operation, scope, next_page, pages)) is not None:
            yield page

    def _query(
        self, scope: tuple[str, str], operation: str, query: queries.Query
    ) -> list[dict[str, Any]]:
        return [item for page in self._pages(scope, operation, query) for item in page]

    def _segment_ids(self, scope: tuple[str, str]) -> list[str]:
        query = queries.segment_ids_query(scope[1], scope[0])
        return [item["id"] for item in self._query(scope, "delete", query)]

    def _newest_segments(
        self, scope: tuple[str, str], head: dict[str, Any], last: int
    ) -> list[dict[str, Any]]:
        """Point-read segments newest first until `last` messages are at hand."""
        have = docs.head_messages_available(head)
        segments: list[dict[str, Any]] = []
        for number in range(int(head.get("segment_count", 0)) - 1, -1, -1):
            if have >= last:
                break
            try:
                segment: dict[str, Any] = self._sdk(
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

    def _append_chunk(self, scope: tuple[str, str], chunk: list[dict[str, Any]]) -> None:
        """One conditional patch. If it fails (412), the head is full, the messages are already
        there (a retried request), or another writer sealed first: re-read and patch again,
        or seal the oldest messages into segments, racing other writers by ETag."""
        for race in range(_MAX_WRITE_RACES):
            try:
                self._sdk(
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
            item = self._read_head(scope)
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
                self._write_batch(scope, "append", [*(("create", (s,)) for s in segments), replace])
                return
            except ConflictError:
                time.sleep(docs.race_backoff(race))
        raise ConflictError(f"conversation {scope[0]!r} kept changing during append")

    def _update_by_replace(
        self, scope: tuple[str, str], update: HeaderUpdate, etag: str | None
    ) -> None:
        for _ in range(_MAX_WRITE_RACES):
            item = self._read_head(scope)
            if etag is not None and item["_etag"] != etag:
                raise ConflictError(f"conversation {scope[0]!r} changed since it was read")
            body = docs.updated_head(docs.upgraded_head(item), update, docs.now())
            try:
                self._sdk(
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

    def _delete_then_write(
        self, scope: tuple[str, str], segment_ids: list[str], head_operation: tuple[Any, ...]
    ) -> None:
        """Delete segments (oldest batches first) and apply `head_operation` in the last batch."""
        deletes = [("delete", (item_id,)) for item_id in segment_ids]
        size = docs.MAX_BATCH_OPERATIONS - 1
        while len(deletes) > size:
            self._write_batch(scope, "delete", deletes[:size])
            deletes = deletes[size:]
        self._write_batch(scope, "delete", [*deletes, head_operation])

    def _create_in_batches(
        self, scope: tuple[str, str], batches: list[list[tuple[Any, ...]]]
    ) -> str | None:
        """Write `creation_batches` in order; returns the created head's etag.

        Over several batches, the segments are upserted before the head's create can fail on
        an existing conversation: refuse first, so that its segments are never overwritten.
        """
        if len(batches) > 1 and self._exists(scope):
            raise ConflictError(f"conversation {scope[0]!r} already exists")
        results: list[dict[str, Any]] = []
        for batch in batches:
            results = self._write_batch(scope, "create", batch)
        etag: str | None = results[-1].get("eTag")
        return etag

    def _exists(self, scope: tuple[str, str]) -> bool:
        """Whether the head is stored, expired or not."""
        try:
            self._sdk("create", scope, "read_item", scope[0], partition_key=scope[1])
        except ConversationNotFoundError:
            return False
        return True

    def _replacement(
        self, scope: tuple[str, str], message_id: str, new: dict[str, Any] | None
    ) -> list[tuple[Any, ...]]:
        """Batch operations editing the message where it is now: in the head, or in a segment
        (then the head's counters change in the same batch). Raises MessageNotFoundError."""
        item = self._read_head(scope)
        head, now = docs.upgraded_head(item), docs.now()
        operations = docs.replace_in_head(head, item["_etag"], message_id, new, self._limits, now)
        if operations is not None:
            return operations
        query = queries.segment_holding_query(scope[1], scope[0], message_id)
        for segment in self._query(scope, "replace", query):
            operations = docs.replace_in_segment(head, item["_etag"], segment, message_id, new, now)
            if operations is not None:
                return operations
        raise MessageNotFoundError(scope[0], scope[1], message_id)

    def _delete_items(self, scope: tuple[str, str], items: list[dict[str, Any]]) -> int:
        """Delete `items` of one partition in batches; returns how many were heads. A batch
        that finds an item gone (another writer deleted it) is skipped: the caller lists again."""
        heads = 0
        for batch in queries.deletion_batches(items, docs.MAX_BATCH_OPERATIONS):
            try:
                self._write_batch(scope, "delete", [("delete", (item["id"],)) for item in batch])
            except ConversationNotFoundError:
                continue
            heads += sum(queries.is_head(item) for item in batch)
        return heads

    def _write_batch(
        self, scope: tuple[str, str], operation: str, operations: Sequence[tuple[Any, ...]]
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self._sdk(
            operation,
            scope,
            "execute_item_batch",
            list(operations),
            partition_key=scope[1],
        )
        return results
