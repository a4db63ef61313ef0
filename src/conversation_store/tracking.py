"""Pure change tracking for `save_conversation`: what changed since load or last save."""

from __future__ import annotations

from operator import attrgetter

from pydantic import JsonValue

from conversation_store.exceptions import InvalidInputError
from conversation_store.models import (
    HEADER_FIELDS,
    Conversation,
    HeaderUpdate,
    Message,
    SavedState,
)

_ID = attrgetter("id")  # a C call per message: a load of 10,000 marks them all saved


def header_of(conversation: Conversation) -> dict[str, JsonValue]:
    dumped = conversation.model_dump(mode="json", include=set(HEADER_FIELDS))
    return {key: dumped.get(key) for key in HEADER_FIELDS}  # an unset ttl is left out


def mark_saved(conversation: Conversation, etag: str | None) -> None:
    """Record that the store now holds `conversation` as it is in memory."""
    conversation._saved = SavedState(
        etag=etag,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        message_ids=tuple(map(_ID, conversation.messages)),
        header=header_of(conversation),
    )


def unsaved_messages(conversation: Conversation, saved: SavedState) -> list[Message]:
    """Messages added in memory since `saved`; raises if saved ones were edited or removed."""
    if (conversation.customer_id, conversation.id) != (saved.customer_id, saved.conversation_id):
        raise InvalidInputError("the id or customer_id of a stored conversation cannot change")
    count = len(saved.message_ids)
    current = tuple(map(_ID, conversation.messages[:count]))
    if current != saved.message_ids:
        raise InvalidInputError(
            "stored messages were removed or reordered in memory; save_conversation only "
            "appends — use clear_conversation to start over"
        )
    return list(conversation.messages[count:])


def header_update(conversation: Conversation, saved: SavedState) -> HeaderUpdate:
    """Header fields and metadata keys that differ from `saved`."""
    now = header_of(conversation)
    fields = {k: v for k, v in now.items() if k != "metadata" and v != saved.header.get(k)}
    old_meta = saved.header.get("metadata")
    new_meta = now["metadata"]
    assert isinstance(old_meta, dict) and isinstance(new_meta, dict)
    return HeaderUpdate(
        fields=fields,
        metadata_set={k: v for k, v in new_meta.items() if old_meta.get(k, ...) != v},
        metadata_removed=tuple(k for k in old_meta if k not in new_meta),
    )


def add_in_memory(conversation: Conversation, message: Message) -> None:
    """Append `message` to the in-memory conversation and keep its counters true."""
    conversation.messages.append(message)
    conversation.message_count += 1
    conversation.total_tokens += message.tokens or 0
    conversation.updated_at = message.timestamp


def replace_in_memory(conversation: Conversation, message_id: str, message: Message | None) -> bool:
    """Replace the message `message_id` by `message` (remove it when None) and keep the
    counters true; False if no message of `conversation` has that id."""
    for position, old in enumerate(conversation.messages):
        if old.id == message_id:
            if message is None:
                del conversation.messages[position]
                conversation.message_count -= 1
            else:
                conversation.messages[position] = message
            new_tokens = (message.tokens or 0) if message else 0
            conversation.total_tokens += new_tokens - (old.tokens or 0)
            return True
    return False
