"""Degraded mode: a store that keeps accepting writes while its primary store is unreachable.

`OutboxStore` wraps a primary store (Cosmos DB). A write that fails with StoreUnavailableError
after the primary's own retries is queued durably in a local `OutboxQueue` and reported as
pending; while anything is queued, new writes queue behind it, so order is kept. Reads merge
the pending writes into what the primary returns. A flusher replays the queue in order —
in a background thread, woken by every queued write and every `interval` seconds.
Nothing acknowledged is lost: a write is either applied by the primary or on disk here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
    StoreUnavailableError,
)
from conversation_store.history import pin_system_message
from conversation_store.models import (
    AppendResult,
    Conversation,
    ConversationSummary,
    Message,
    Page,
    SearchHit,
)
from conversation_store.stores.outbox.queue import Operation, OutboxQueue, QueuedWrite
from conversation_store.stores.protocol import ConversationStore, HeaderUpdate
from conversation_store.tracking import mark_saved, replace_in_memory

T = TypeVar("T")
log = logging.getLogger(__name__)


class OutboxStore:
    """A ConversationStore that degrades to a local outbox instead of failing writes."""

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

    def __enter__(self) -> OutboxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_conversation(self, conversation: Conversation) -> Conversation:
        def pending() -> Conversation:
            queued = conversation.model_copy(deep=True)
            mark_saved(queued, None)
            return queued

        return self._write(
            conversation.customer_id,
            conversation.id,
            "create",
            {"conversation": conversation.to_document()},
            lambda: self._primary.create_conversation(conversation),
            pending,
        )

    def get_conversation(
        self, *, customer_id: str, conversation_id: str, last: int | None = None
    ) -> Conversation:
        queued = self._queue.pending(customer_id, conversation_id)
        try:
            stored: Conversation | None = self._primary.get_conversation(
                customer_id=customer_id, conversation_id=conversation_id, last=last
            )
        except (ConversationNotFoundError, StoreUnavailableError):
            if not any(w.operation == "create" for w in queued):
                raise
            stored = None
        merged = merge_pending(stored, queued, last=last)
        if merged is None:
            raise ConversationNotFoundError(conversation_id, customer_id)
        return merged

    def append_messages(
        self, *, customer_id: str, conversation_id: str, messages: Sequence[Message]
    ) -> AppendResult:
        ids = [m.id for m in messages if m.id]
        return self._write(
            customer_id,
            conversation_id,
            "append",
            {"messages": [m.model_dump(mode="json") for m in messages]},
            lambda: self._primary.append_messages(
                customer_id=customer_id, conversation_id=conversation_id, messages=messages
            ),
            lambda: AppendResult(conversation_id=conversation_id, message_ids=ids, pending=True),
        )

    def update_conversation(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        update: HeaderUpdate,
        etag: str | None = None,
    ) -> None:
        def send() -> None:
            self._primary.update_conversation(
                customer_id=customer_id, conversation_id=conversation_id, update=update, etag=etag
            )

        if etag is not None:  # an ETag can only be checked by the primary, never offline
            send()
            return
        self._write(
            customer_id, conversation_id, "update", _update_payload(update), send, lambda: None
        )

    def clear_messages(self, *, customer_id: str, conversation_id: str) -> None:
        self._write(
            customer_id,
            conversation_id,
            "clear",
            {},
            lambda: self._primary.clear_messages(
                customer_id=customer_id, conversation_id=conversation_id
            ),
            lambda: None,
        )

    def list_conversations(
        self,
        *,
        customer_id: str,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
    ) -> Page[ConversationSummary]:
        page = self._primary.list_conversations(
            customer_id=customer_id, limit=limit, continuation=continuation, archived=archived
        )
        queued = self._queue.pending(customer_id)
        if not queued or archived:  # queued creates are never archived
            return page
        deleted = {w.conversation_id for w in queued if w.operation == "delete"}
        listed = {s.id for s in page.items}
        created = (
            []
            if continuation
            else [
                ConversationSummary.model_validate(w.payload["conversation"])
                for w in queued
                if w.operation == "create" and w.conversation_id not in listed
            ]
        )
        items = [s for s in [*created, *page.items] if s.id not in deleted]
        return Page(items=items, continuation=page.continuation)

    def delete_conversation(self, *, customer_id: str, conversation_id: str) -> None:
        self._write(
            customer_id,
            conversation_id,
            "delete",
            {},
            lambda: self._primary.delete_conversation(
                customer_id=customer_id, conversation_id=conversation_id
            ),
            lambda: None,
        )

    def search_messages(self, *, customer_id: str, query: str, limit: int) -> list[SearchHit]:
        """Searches the primary only: messages still queued are found once replayed."""
        return self._primary.search_messages(customer_id=customer_id, query=query, limit=limit)

    def replace_message(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        message_id: str,
        message: Message | None,
    ) -> None:
        self._write(
            customer_id,
            conversation_id,
            "replace_message",
            {
                "message_id": message_id,
                "message": None if message is None else message.model_dump(mode="json"),
            },
            lambda: self._primary.replace_message(
                customer_id=customer_id,
                conversation_id=conversation_id,
                message_id=message_id,
                message=message,
            ),
            lambda: None,
        )

    def delete_customer(self, *, customer_id: str) -> int:
        """Drops the customer's queued writes, then deletes in the primary (which must be up:
        an erasure is confirmed only once it is done)."""
        self._queue.drop_customer(customer_id)
        return self._primary.delete_customer(customer_id=customer_id)

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        return self._primary.scan_conversations(
            customer_id=customer_id, updated_before=updated_before
        )

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        return self._primary.count_messages_by_day(customer_id=customer_id)

    def delete_orphans(self, *, customer_id: str | None = None) -> int:
        return self._primary.delete_orphans(customer_id=customer_id)

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

    def _write(
        self,
        customer_id: str,
        conversation_id: str,
        operation: Operation,
        payload: dict[str, Any],
        send: Callable[[], T],
        pending: Callable[[], T],
    ) -> T:
        if self._queue.count() == 0:  # nothing queued ahead of this write: try the primary
            try:
                return send()
            except StoreUnavailableError as exc:
                log.warning("outbox: primary unavailable, queueing %s: %s", operation, exc)
        self._queue.put(customer_id, conversation_id, operation, payload)
        self._wake.set()
        return pending()

    def _replay(self, write: QueuedWrite) -> None:
        scope = {"customer_id": write.customer_id, "conversation_id": write.conversation_id}
        if write.operation == "create":
            conversation = Conversation.model_validate(write.payload["conversation"])
            try:
                self._primary.create_conversation(conversation)
            except ConflictError:  # created before a lost response, or by a replay: merge
                self._primary.append_messages(**scope, messages=conversation.messages)
        elif write.operation == "append":
            messages = [Message.model_validate(m) for m in write.payload["messages"]]
            self._primary.append_messages(**scope, messages=messages)
        elif write.operation == "update":
            self._primary.update_conversation(
                **scope,
                update=HeaderUpdate(
                    fields=write.payload["fields"],
                    metadata_set=write.payload["metadata_set"],
                    metadata_removed=tuple(write.payload["metadata_removed"]),
                ),
            )
        elif write.operation == "clear":
            self._primary.clear_messages(**scope)
        elif write.operation == "replace_message":
            message_id, message = _replacement(write.payload)
            self._primary.replace_message(**scope, message_id=message_id, message=message)
        else:
            self._primary.delete_conversation(**scope)

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


def _update_payload(update: HeaderUpdate) -> dict[str, Any]:
    return {
        "fields": update.fields,
        "metadata_set": update.metadata_set,
        "metadata_removed": list(update.metadata_removed),
    }


def _replacement(payload: dict[str, Any]) -> tuple[str, Message | None]:
    message = payload["message"]
    return payload["message_id"], None if message is None else Message.model_validate(message)


def merge_pending(
    stored: Conversation | None, queued: Sequence[QueuedWrite], *, last: int | None
) -> Conversation | None:
    """`stored` as it will be once `queued` (writes of this conversation, in order) apply."""
    conversation = stored.model_copy(deep=True) if stored is not None else None
    for write in queued:
        if write.operation == "create" and conversation is None:
            conversation = Conversation.model_validate(write.payload["conversation"])
        elif write.operation == "delete":
            conversation = None
        elif conversation is None:
            continue
        elif write.operation == "append":
            known = {m.id for m in conversation.messages if m.id}
            added = [
                Message.model_validate(m)
                for m in write.payload["messages"]
                if m.get("id") not in known
            ]
            conversation.messages.extend(added)
            conversation.message_count += len(added)
            conversation.total_tokens += sum(m.tokens or 0 for m in added)
        elif write.operation == "update":
            for name, value in write.payload["fields"].items():
                setattr(conversation, name, value)
            metadata = {**conversation.metadata, **write.payload["metadata_set"]}
            for key in write.payload["metadata_removed"]:
                metadata.pop(key, None)
            conversation.metadata = metadata
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
