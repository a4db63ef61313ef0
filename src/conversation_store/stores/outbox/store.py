"""Degraded mode: a store that keeps accepting writes while its primary store is unreachable.

`OutboxStore` wraps a primary store (Cosmos DB). A write that fails with StoreUnavailableError
after the primary's own retries is queued durably in a local `OutboxQueue` and reported as
pending; while anything is queued, new writes queue behind it, so order is kept. Reads merge
the pending writes into what the primary returns, and the messages of parked appends too, each
marked `metadata["unsaved"] = "parked: <error>"`: a message the primary refused is shown as
not saved, never hidden. `parked_writes`, `requeue_parked` and `drop_parked` let an operator
recover or discard parked writes. A flusher replays the queue in order —
in a background thread, woken by every queued write and every `interval` seconds.
Nothing acknowledged is lost: a write is either applied by the primary or on disk here.

The outbox offers every capability of the protocol and hands it to the primary, raising
UnsupportedOperationError when the primary lacks it — except the orphan sweep, which only an
outbox over a primary that sweeps offers (`OrphanSweepingOutboxStore`), so that the manager's
cleanup, which sweeps every store declaring it, still runs over an outbox on SQLite.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
    MessageNotFoundError,
    StoreUnavailableError,
)
from conversation_store.history import pin_system_message
from conversation_store.models import (
    NO_FILTER,
    SUMMARY_FIELDS,
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
from conversation_store.operations import SupportsOrphanSweep, SupportsScans
from conversation_store.stores.outbox.queue import (
    Operation,
    OutboxQueue,
    ParkedWrite,
    QueuedWrite,
)
from conversation_store.stores.protocol import (
    BoundsMessageSize,
    ConversationStore,
    SupportsCreateOrAppend,
    SupportsEditing,
    SupportsErasure,
    SupportsExternalIds,
    SupportsMessageOps,
    SupportsSearch,
    SupportsShareLinks,
)
from conversation_store.syncing import missing_messages
from conversation_store.tracking import mark_saved, replace_in_memory
from conversation_store.validation import external_id_not_found, require_capability

T = TypeVar("T")
log = logging.getLogger(__name__)


@runtime_checkable
class SupportsPendingCount(Protocol):
    """A store that queues writes locally while its backend is unavailable."""

    def pending_count(self) -> int:
        """How many writes wait in the local outbox."""
        ...


@runtime_checkable
class SupportsParkedWrites(Protocol):
    """A store that keeps the writes its backend refused for good, for an operator."""

    def parked_count(self) -> int:
        """How many refused writes are parked in the local outbox."""
        ...


class OutboxStore:
    """A ConversationStore that degrades to a local outbox instead of failing writes."""

    def __new__(cls, primary: ConversationStore, *args: object, **kwargs: object) -> OutboxStore:
        # As `pathlib.Path()` gives a PosixPath: the class says what the primary can do, since
        # callers look for a capability with isinstance.
        chosen: type[OutboxStore] = cls
        if cls is OutboxStore and isinstance(primary, SupportsOrphanSweep):
            chosen = OrphanSweepingOutboxStore
        return super().__new__(chosen)

    def __init__(
        self,
        primary: ConversationStore,
        queue: OutboxQueue,
        *,
        interval: float = 5.0,
        background: bool = True,
    ) -> None:
        """`background=False` runs no flusher thread: the caller calls flush() itself."""
        self._primary = primary
        self._queue = queue
        self._interval = interval
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_forever, daemon=True, name="conversation-store-outbox"
        )
        if background:
            self._flusher.start()
            self._wake.set()  # replay what an earlier process left behind

    @property
    def primary(self) -> ConversationStore:
        return self._primary

    def pending_count(self) -> int:
        """Writes accepted but not yet applied by the primary store."""
        return self._queue.count()

    def parked_count(self) -> int:
        """Queued writes the primary refused for good (kept on disk for an operator)."""
        return self._queue.parked_count()

    def parked_writes(self) -> list[ParkedWrite]:
        """The parked writes, in order, each with why the primary refused it."""
        return self._queue.parked()

    def parked_write(self, seq: int) -> ParkedWrite:
        """One parked write with its payload. Raises InvalidInputError (no such parked write)."""
        return self._queue.parked_write(seq)

    def requeue_parked(self, seq: int) -> None:
        """Make a parked write pending again, replayed in its original place in the order.

        Raises InvalidInputError (no such parked write).
        """
        self._queue.requeue(seq)
        self._wake.set()

    def drop_parked(self, seq: int) -> None:
        """Discard a parked write for good. Raises InvalidInputError (no such parked write)."""
        self._queue.drop(seq)

    def __enter__(self) -> OutboxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_conversation(self, conversation: Conversation) -> Conversation:
        """Raises ConflictError, also for an external id that a queued create holds (one
        that only the unreachable primary holds is found at replay, which parks the create)."""
        external_id = conversation.external_id
        holder = (
            None
            if external_id is None
            else self._queued_holder(conversation.customer_id, external_id)
        )
        if holder is not None and holder != conversation.id:
            raise ConflictError(f"external id {external_id!r} is already in use")

        def pending() -> Conversation:
            queued = conversation.model_copy(deep=True)
            mark_saved(queued, None)
            return queued

        return self._write(
            ConversationKey(conversation.customer_id, conversation.id),
            "create",
            lambda: {"conversation": conversation.to_document()},
            lambda: self._primary.create_conversation(conversation),
            pending,
            messages=conversation.messages,
        )

    def create_or_append(self, conversation: Conversation) -> None:
        """The primary's own create-or-append when it is up and nothing is queued. Otherwise
        a create, which a conflict turns into an append; a queued create is followed by a
        queued append of its messages, because reads (and the replay) of a conversation that
        the primary holds already merge the append, not the create."""
        key = ConversationKey(conversation.customer_id, conversation.id)
        if self._queue.count() == 0 and isinstance(self._primary, SupportsCreateOrAppend):
            try:
                self._primary.create_or_append(conversation)
                return
            except StoreUnavailableError as exc:
                log.warning("outbox: primary unavailable, queueing create: %s", exc)
        try:
            created = self.create_conversation(conversation)
        except ConflictError:
            created = None
        if created is None or created.etag is None:  # conflicted, or queued
            try:
                self.append_messages(key, conversation.messages)
            except ConversationNotFoundError:
                raise ConflictError(
                    f"external id {conversation.external_id!r} is already in use"
                ) from None

    def get_conversation(self, key: ConversationKey, *, last: int | None = None) -> Conversation:
        queued = self._queue.writes_of(key)
        try:
            stored: Conversation | None = self._primary.get_conversation(key, last=last)
        except (ConversationNotFoundError, StoreUnavailableError):
            if not any(w.operation == "create" and w.error is None for w in queued):
                raise
            stored = None
        merged = merge_pending(stored, queued, last=last)
        if merged is None:
            raise ConversationNotFoundError(key.conversation_id, key.customer_id)
        return merged

    def append_messages(self, key: ConversationKey, messages: Sequence[Message]) -> AppendResult:
        ids = [m.id for m in messages if m.id]
        return self._write(
            key,
            "append",
            lambda: {"messages": [m.model_dump(mode="json") for m in messages]},
            lambda: self._primary.append_messages(key, messages),
            lambda: AppendResult(
                conversation_id=key.conversation_id, message_ids=ids, pending=True
            ),
            messages=messages,
        )

    def update_conversation(
        self, key: ConversationKey, update: HeaderUpdate, *, etag: str | None = None
    ) -> None:
        def send() -> None:
            self._primary.update_conversation(key, update, etag=etag)

        if etag is not None:  # an ETag can only be checked by the primary, never offline
            send()
            return
        update.apply({})  # refuse a bad update now: queued, it would break every merged read
        self._write(key, "update", update.to_json, send, lambda: None)

    def list_conversations(
        self,
        customer_id: str,
        *,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
        where: ListFilter = NO_FILTER,
    ) -> Page[ConversationSummary]:
        page = self._primary.list_conversations(
            customer_id, limit=limit, continuation=continuation, archived=archived, where=where
        )
        queued = self._queue.pending(customer_id)
        if not queued or archived:  # queued creates are never archived
            return page
        # Queued writes apply in order: a create queued after a delete brings the id back.
        deleted: set[str] = set()
        created: dict[str, ConversationSummary] = {}
        for write in queued:
            if write.operation == "delete":
                deleted.add(write.conversation_id)
                created.pop(write.conversation_id, None)
            elif write.operation == "create":
                deleted.discard(write.conversation_id)
                created[write.conversation_id] = _queued_summary(write.payload["conversation"])
        listed = {s.id for s in page.items}
        fresh = [] if continuation else [s for i, s in created.items() if i not in listed]
        merged = (created.get(s.id, s) for s in [*fresh, *page.items] if s.id not in deleted)
        return Page(items=[s for s in merged if where.matches(s)], continuation=page.continuation)

    def get_conversation_by_external_id(
        self, customer_id: str, external_id: str, *, last: int | None = None
    ) -> Conversation:
        """A queued create's conversation first, else the primary's, with the writes queued
        for it merged. Raises ConversationNotFoundError, UnsupportedOperationError."""
        holder = self._queued_holder(customer_id, external_id)
        if holder is not None:
            return self.get_conversation(ConversationKey(customer_id, holder), last=last)
        finder = require_capability(self._primary, SupportsExternalIds, "external ids")
        found = finder.get_conversation_by_external_id(customer_id, external_id, last=last)
        key = ConversationKey(customer_id, found.id)
        merged = merge_pending(found, self._queue.writes_of(key), last=last)
        if merged is None or merged.external_id != external_id:
            raise external_id_not_found(customer_id, external_id)
        return merged

    def delete_conversation(self, key: ConversationKey) -> None:
        def send() -> None:
            self._primary.delete_conversation(key)

        self._write(key, "delete", dict, send, lambda: None)

    def search_messages(self, customer_id: str, *, query: str, limit: int) -> list[SearchHit]:
        """Searches the primary only: messages still queued are found once replayed.

        Raises UnsupportedOperationError when the primary cannot search.
        """
        searcher = require_capability(self._primary, SupportsSearch, "search")
        return searcher.search_messages(customer_id, query=query, limit=limit)

    def replace_message(
        self, key: ConversationKey, message_id: str, message: Message | None
    ) -> None:
        """Raises UnsupportedOperationError, before queueing, when the primary cannot edit."""
        editor = self._editor()
        self._write(
            key,
            "replace_message",
            lambda: {
                "message_id": message_id,
                "message": None if message is None else message.model_dump(mode="json"),
            },
            lambda: editor.replace_message(key, message_id, message),
            lambda: None,
            messages=[] if message is None else [message],
        )

    def clear_messages(self, key: ConversationKey) -> None:
        """Raises UnsupportedOperationError, before queueing, when the primary cannot edit."""
        editor = self._editor()
        self._write(key, "clear", dict, lambda: editor.clear_messages(key), lambda: None)

    def pop_messages(self, key: ConversationKey, n: int) -> list[Message]:
        """Straight to the primary, never queued: what a pop returns is only known there.
        Raises UnsupportedOperationError (the primary lacks it), StoreUnavailableError (the
        primary is down, or writes are queued ahead, which the pop must not overtake)."""
        return self._message_ops(key).pop_messages(key, n)

    def replace_messages(self, key: ConversationKey, messages: Sequence[Message]) -> None:
        """Straight to the primary, never queued, as pop_messages (same errors)."""
        self._message_ops(key).replace_messages(key, messages)

    def delete_customer(self, customer_id: str) -> int:
        """Drops the customer's queued writes, then deletes in the primary (which must be up:
        an erasure is confirmed only once it is done).

        Raises UnsupportedOperationError, dropping nothing, when the primary cannot erase.
        """
        eraser = require_capability(self._primary, SupportsErasure, "erasure")
        self._queue.drop_customer(customer_id)
        return eraser.delete_customer(customer_id)

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        """Raises UnsupportedOperationError when the primary cannot scan."""
        return self._scanner().scan_conversations(
            customer_id=customer_id, updated_before=updated_before
        )

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        """Raises UnsupportedOperationError when the primary cannot scan."""
        return self._scanner().count_messages_by_day(customer_id=customer_id)

    def put_share_link(self, link: ShareLink) -> None:
        """Sharing needs the primary: never queued (a fault is StoreUnavailableError).

        Raises UnsupportedOperationError when the primary cannot share.
        """
        self._sharer().put_share_link(link)

    def get_share_link(self, token_hash: str) -> ShareLink | None:
        """Raises UnsupportedOperationError when the primary cannot share."""
        return self._sharer().get_share_link(token_hash)

    def delete_share_link(self, token_hash: str) -> None:
        """Never queued. Raises UnsupportedOperationError when the primary cannot share."""
        self._sharer().delete_share_link(token_hash)

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._flusher.is_alive():
            self._flusher.join(timeout=30)
        self._queue.close()
        self._primary.close()

    def flush(self) -> int:
        """Replay queued writes in order until the queue is empty or the primary is down.

        Returns how many writes are still pending. Safe to call from any thread.
        """
        with self._flush_lock:
            for write in self._queue.pending():
                try:
                    self._replay(write)
                except StoreUnavailableError:
                    break
                except ConversationStoreError as exc:
                    log.error(
                        "outbox: parking %s of %s: %s", write.operation, write.conversation_id, exc
                    )
                    self._queue.park(write.seq, f"{type(exc).__name__}: {exc}")
                    continue
                self._queue.remove(write.seq)
            return self._queue.count()

    # -- internals --------------------------------------------------------------------------

    def _queued_holder(self, customer_id: str, external_id: str) -> str | None:
        """The id of the conversation whose queued create (not deleted since) holds this
        external id."""
        holder: str | None = None
        for write in self._queue.pending(customer_id):
            if write.operation == "create":
                if write.payload["conversation"].get("external_id") == external_id:
                    holder = write.conversation_id
            elif write.operation == "delete" and write.conversation_id == holder:
                holder = None
        return holder

    def _editor(self) -> SupportsEditing:
        return require_capability(self._primary, SupportsEditing, "editing")

    def _message_ops(self, key: ConversationKey) -> SupportsMessageOps:
        """The primary's message operations, when nothing is queued that they could overtake."""
        ops = require_capability(self._primary, SupportsMessageOps, "message operations")
        if self._queue.count():
            raise StoreUnavailableError(
                f"conversation {key.conversation_id!r}: writes are still queued in the outbox; "
                "pop and replace wait until they are applied"
            )
        return ops

    def _scanner(self) -> SupportsScans:
        return require_capability(self._primary, SupportsScans, "scans")

    def _sharer(self) -> SupportsShareLinks:
        return require_capability(self._primary, SupportsShareLinks, "share links")

    def _check_sizes(self, messages: Sequence[Message]) -> None:
        """Refuse now a message the primary could never store: queued, it would be acknowledged
        and then parked at replay. Raises InvalidInputError naming the primary's limit."""
        if isinstance(self._primary, BoundsMessageSize):
            self._primary.check_message_sizes(messages)

    def _write(
        self,
        key: ConversationKey,
        operation: Operation,
        payload: Callable[[], dict[str, Any]],
        send: Callable[[], T],
        pending: Callable[[], T],
        *,
        messages: Sequence[Message] = (),
    ) -> T:
        """`send` to the primary when nothing is queued ahead; else (or when it is down)
        queue the write's `payload`, once its `messages` passed the primary's size bound (the
        primary checks that itself when it takes the write)."""
        if self._queue.count() == 0:  # nothing queued ahead of this write: try the primary
            try:
                return send()
            except StoreUnavailableError as exc:
                log.warning("outbox: primary unavailable, queueing %s: %s", operation, exc)
        self._check_sizes(messages)
        self._queue.put(key, operation, payload())
        self._wake.set()
        return pending()

    def _replay(self, write: QueuedWrite) -> None:
        """Apply one queued write through the primary's idempotent paths: a replay after a crash
        (the write landed, its dequeue did not) changes nothing more."""
        key = write.key
        if write.operation == "create":
            self._replay_create(key, Conversation.model_validate(write.payload["conversation"]))
        elif write.operation == "append":
            messages = [Message.model_validate(m) for m in write.payload["messages"]]
            self._primary.append_messages(key, messages)  # skips the ids already stored
        elif write.operation == "update":
            self._primary.update_conversation(key, HeaderUpdate.from_json(write.payload))
        elif write.operation == "clear":
            self._editor().clear_messages(key)
        elif write.operation == "replace_message":
            self._replay_replacement(key, *_replacement(write.payload))
        else:
            self._primary.delete_conversation(key)

    def _replay_create(self, key: ConversationKey, conversation: Conversation) -> None:
        try:
            self._primary.create_conversation(conversation)
        except ConflictError:  # created before a lost response, or by a replay: merge
            stored = self._primary.get_conversation(key)
            missing = missing_messages(conversation, stored)
            if missing:
                self._primary.append_messages(key, missing)

    def _replay_replacement(
        self, key: ConversationKey, message_id: str, message: Message | None
    ) -> None:
        try:
            self._editor().replace_message(key, message_id, message)
        except MessageNotFoundError:
            if message is not None:
                raise
            # A removal whose first replay landed: the message is gone, as the write wanted.

    def _flush_forever(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                if self._queue.count():
                    self.flush()
            except ConversationStoreError as exc:  # never let the flusher die
                log.warning("outbox: flush failed: %s", exc)


class OrphanSweepingOutboxStore(OutboxStore):
    """The OutboxStore over a primary that sweeps orphans (Cosmos DB); `OutboxStore(...)`
    returns one for such a primary."""

    def delete_orphans(self, *, customer_id: str | None = None) -> int:
        sweeper = require_capability(self._primary, SupportsOrphanSweep, "orphan sweeps")
        return sweeper.delete_orphans(customer_id=customer_id)


def _queued_summary(document: dict[str, Any]) -> ConversationSummary:
    """The listing entry of a conversation whose create is still queued."""
    return ConversationSummary.model_validate(
        {k: document[k] for k in SUMMARY_FIELDS if k in document}
    )


def _replacement(payload: dict[str, Any]) -> tuple[str, Message | None]:
    message = payload["message"]
    return payload["message_id"], None if message is None else Message.model_validate(message)


def _queued_message(body: dict[str, Any], parked_error: str | None) -> Message:
    """A message of a queued append; marked as not saved when the append is parked."""
    message = Message.model_validate(body)
    if parked_error is not None:
        message.metadata["unsaved"] = f"parked: {parked_error}"
    return message


def merge_pending(
    stored: Conversation | None, queued: Sequence[QueuedWrite], *, last: int | None
) -> Conversation | None:
    """`stored` as it will be once `queued` (writes of this conversation, in order) apply.

    Of the parked writes in `queued`, only appends count: their messages are shown, marked
    `metadata["unsaved"]`; the primary refused the other parked writes, so they change nothing.
    """
    conversation = stored.model_copy(deep=True) if stored is not None else None
    for write in queued:
        if write.error is not None and write.operation != "append":
            continue
        if write.operation == "create" and conversation is None:
            conversation = Conversation.model_validate(write.payload["conversation"])
        elif write.operation == "delete":
            conversation = None
        elif conversation is None:
            continue
        elif write.operation == "append":
            _add_pending(conversation, write.payload["messages"], write.error)
        elif write.operation == "update":
            update = HeaderUpdate.from_json(write.payload)
            for name, value in update.apply({"metadata": conversation.metadata}).items():
                setattr(conversation, name, value)
        elif write.operation == "clear":
            conversation.messages, conversation.message_count, conversation.total_tokens = [], 0, 0
        elif write.operation == "replace_message":
            replace_in_memory(conversation, *_replacement(write.payload))  # False: not loaded
    if conversation is not None and last is not None:
        everything = conversation.messages
        conversation.messages = pin_system_message(everything, everything[-last:] if last else [])
    if conversation is not None:
        mark_saved(conversation, stored.etag if stored is not None and not queued else None)
    return conversation


def _add_pending(
    conversation: Conversation, messages: Sequence[dict[str, Any]], error: str | None
) -> None:
    """Add the queued `messages` the conversation lacks, as an append will."""
    known = {m.id for m in conversation.messages if m.id}
    added = [_queued_message(m, error) for m in messages if m.get("id") not in known]
    conversation.messages.extend(added)
    conversation.message_count += len(added)
    conversation.total_tokens += sum(m.tokens or 0 for m in added)
