"""An in-process store: for tests, demos and callers who inject a store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    MessageNotFoundError,
    StoreClosedError,
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
    format_timestamp,
    utc_now,
)
from conversation_store.retention import is_expired
from conversation_store.search import matches, search_terms, snippet
from conversation_store.stores.continuation import decode_continuation, encode_continuation
from conversation_store.tracking import mark_saved, replace_in_memory
from conversation_store.validation import external_id_not_found


@dataclass
class _Entry:
    conversation: Conversation
    version: int = 1


class MemoryStore:
    """Keeps conversations in a dict guarded by one lock; nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._entries: dict[ConversationKey, _Entry] = {}
        self._share_links: dict[str, ShareLink] = {}
        self._closed = False

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_conversation(self, conversation: Conversation) -> Conversation:
        with self._lock:
            self._check_open()
            key = ConversationKey(conversation.customer_id, conversation.id)
            if key in self._entries and not _expired(self._entries[key]):
                raise ConflictError(f"conversation {conversation.id!r} already exists")
            external_id = conversation.external_id
            if external_id is not None and self._holder(key.customer_id, external_id):
                raise ConflictError(f"external id {external_id!r} is already in use")
            stored = conversation.model_copy(deep=True)
            self._entries[key] = _Entry(stored)
            return self._loaded(stored, version=1, last=None)

    def get_conversation(self, key: ConversationKey, *, last: int | None = None) -> Conversation:
        with self._lock:
            entry = self._entry(key)
            return self._loaded(entry.conversation, version=entry.version, last=last)

    def append_messages(self, key: ConversationKey, messages: Sequence[Message]) -> AppendResult:
        with self._lock:
            entry = self._entry(key)
            stored = entry.conversation
            known = {m.id for m in stored.messages if m.id is not None}
            added = [m for m in messages if m.id is None or m.id not in known]
            if added:
                stored.messages.extend(m.model_copy(deep=True) for m in added)
                stored.message_count += len(added)
                stored.total_tokens += sum(m.tokens or 0 for m in added)
                stored.updated_at = utc_now()
                entry.version += 1
            return AppendResult(
                conversation_id=key.conversation_id,
                message_ids=[m.id for m in messages if m.id is not None],
            )

    def update_conversation(
        self, key: ConversationKey, update: HeaderUpdate, *, etag: str | None = None
    ) -> None:
        with self._lock:
            entry = self._entry(key)
            if etag is not None and etag != str(entry.version):
                raise ConflictError(
                    f"conversation {key.conversation_id!r} changed since it was read"
                )
            stored = entry.conversation
            for name, value in update.apply({"metadata": stored.metadata}).items():
                setattr(stored, name, value)
            stored.header_updated_at = utc_now()  # the listing order stays
            entry.version += 1

    def clear_messages(self, key: ConversationKey) -> None:
        with self._lock:
            entry = self._entry(key)
            entry.conversation.messages = []
            entry.conversation.message_count = 0
            entry.conversation.total_tokens = 0
            entry.conversation.updated_at = utc_now()
            entry.version += 1

    def pop_messages(self, key: ConversationKey, n: int) -> list[Message]:
        with self._lock:
            entry = self._entry(key)
            stored = entry.conversation
            popped = stored.messages[len(stored.messages) - min(n, len(stored.messages)) :]
            if popped:
                del stored.messages[-len(popped) :]
                stored.message_count = max(0, stored.message_count - len(popped))
                stored.total_tokens = max(
                    0, stored.total_tokens - sum(m.tokens or 0 for m in popped)
                )
                stored.updated_at = utc_now()
                entry.version += 1
            return [m.model_copy(deep=True) for m in popped]

    def replace_messages(self, key: ConversationKey, messages: Sequence[Message]) -> None:
        with self._lock:
            entry = self._entry(key)
            stored = entry.conversation
            stored.messages = [m.model_copy(deep=True) for m in messages]
            stored.message_count = len(messages)
            stored.total_tokens = sum(m.tokens or 0 for m in messages)
            stored.updated_at = utc_now()
            entry.version += 1

    def list_conversations(
        self,
        customer_id: str,
        *,
        limit: int,
        continuation: str | None = None,
        archived: bool | None = False,
        where: ListFilter = NO_FILTER,
    ) -> Page[ConversationSummary]:
        token_key = where.token_key(archived)
        with self._lock:
            self._check_open()
            listed = (_summary(e.conversation) for e in self._live(customer_id))
            rows = sorted(
                (
                    (format_timestamp(s.updated_at), s.id, s)
                    for s in listed
                    if (archived is None or s.archived == archived) and where.matches(s)
                ),
                key=lambda row: (row[0], row[1]),
                reverse=True,
            )
        if continuation is not None:
            position = where.unwrap(decode_continuation(continuation, customer_id), archived)
            after = tuple(position)
            rows = [row for row in rows if (row[0], row[1]) < after]
        page = rows[:limit]
        more = len(rows) > limit
        token = (
            encode_continuation(customer_id, [page[-1][0], page[-1][1], token_key])
            if more and page
            else None
        )
        return Page(items=[s for _, _, s in page], continuation=token)

    def get_conversation_by_external_id(
        self, customer_id: str, external_id: str, *, last: int | None = None
    ) -> Conversation:
        with self._lock:
            self._check_open()
            entry = self._holder(customer_id, external_id)
            if entry is None:
                raise external_id_not_found(customer_id, external_id)
            return self._loaded(entry.conversation, version=entry.version, last=last)

    def delete_conversation(self, key: ConversationKey) -> None:
        with self._lock:
            self._check_open()
            self._entries.pop(key, None)
            self._forget_share_links(lambda link: _link_key(link) == key)

    def search_messages(self, customer_id: str, *, query: str, limit: int) -> list[SearchHit]:
        terms = search_terms(query)
        with self._lock:
            self._check_open()
            hits = [
                SearchHit(
                    conversation_id=e.conversation.id,
                    conversation_title=e.conversation.title,
                    message_id=m.id,
                    role=m.role,
                    snippet=snippet(m.text, terms),
                    timestamp=m.timestamp,
                )
                for e in self._live(customer_id)
                for m in e.conversation.messages
                if isinstance(m.content, str) and matches(m.content, terms)
            ]
        hits.sort(key=lambda hit: hit.timestamp, reverse=True)
        return hits[:limit]

    def replace_message(
        self, key: ConversationKey, message_id: str, message: Message | None
    ) -> None:
        with self._lock:
            entry = self._entry(key)
            stored = entry.conversation
            copy = message.model_copy(deep=True) if message else None
            if not replace_in_memory(stored, message_id, copy):
                raise MessageNotFoundError(key.conversation_id, key.customer_id, message_id)
            stored.updated_at = utc_now()
            entry.version += 1

    def delete_customer(self, customer_id: str) -> int:
        with self._lock:
            self._check_open()
            keys = [key for key in self._entries if key.customer_id == customer_id]
            for key in keys:
                del self._entries[key]
            self._forget_share_links(lambda link: link.customer_id == customer_id)
            return len(keys)

    def put_share_link(self, link: ShareLink) -> None:
        with self._lock:
            self._check_open()
            self._share_links[link.token_hash] = link.model_copy()

    def get_share_link(self, token_hash: str) -> ShareLink | None:
        with self._lock:
            self._check_open()
            link = self._share_links.get(token_hash)
        if link is None or (link.expires_at is not None and link.expires_at <= utc_now()):
            return None
        return link.model_copy()

    def delete_share_link(self, token_hash: str) -> None:
        with self._lock:
            self._check_open()
            self._share_links.pop(token_hash, None)

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        with self._lock:
            self._check_open()
            summaries = [
                _summary(e.conversation)
                for key, e in self._entries.items()
                if customer_id in (None, key.customer_id)
                and (
                    updated_before is None
                    or format_timestamp(e.conversation.updated_at) < updated_before
                )
            ]
        yield from summaries

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        days: dict[str, int] = {}
        with self._lock:
            self._check_open()
            for key, entry in self._entries.items():
                if customer_id in (None, key.customer_id) and not _expired(entry):
                    for message in entry.conversation.messages:
                        day = format_timestamp(message.timestamp)[:10]
                        days[day] = days.get(day, 0) + 1
        return days

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._entries.clear()
            self._share_links.clear()

    def _entry(self, key: ConversationKey) -> _Entry:
        self._check_open()
        entry = self._entries.get(key)
        if entry is None or _expired(entry):
            raise ConversationNotFoundError(key.conversation_id, key.customer_id)
        return entry

    def _holder(self, customer_id: str, external_id: str) -> _Entry | None:
        """The customer's live conversation with this external id, if any."""
        found = (e for e in self._live(customer_id) if e.conversation.external_id == external_id)
        return next(found, None)

    def _live(self, customer_id: str) -> Iterator[_Entry]:
        """The customer's entries that have not expired."""
        for key, entry in self._entries.items():
            if key.customer_id == customer_id and not _expired(entry):
                yield entry

    def _forget_share_links(self, doomed: Callable[[ShareLink], bool]) -> None:
        """Drop the links `doomed` picks: a link never outlives what it shares."""
        for token_hash in [h for h, link in self._share_links.items() if doomed(link)]:
            del self._share_links[token_hash]

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("MemoryStore is closed")

    @staticmethod
    def _loaded(stored: Conversation, *, version: int, last: int | None) -> Conversation:
        copy = stored.model_copy(deep=True)
        if last is not None:
            copy.messages = pin_system_message(copy.messages, copy.messages[-last:] if last else [])
        mark_saved(copy, str(version))
        return copy


def _expired(entry: _Entry) -> bool:
    return is_expired(entry.conversation.written_at, entry.conversation.ttl)


def _link_key(link: ShareLink) -> ConversationKey:
    return ConversationKey(link.customer_id, link.conversation_id)


def _summary(conversation: Conversation) -> ConversationSummary:
    return ConversationSummary.model_validate(conversation.model_dump(include=set(SUMMARY_FIELDS)))
