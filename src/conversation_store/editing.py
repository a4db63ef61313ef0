"""Pure edits of stored conversations: finding, editing one message, forking at a message."""

from __future__ import annotations

from conversation_store.exceptions import MessageNotFoundError
from conversation_store.ids import new_conversation_id
from conversation_store.models import Conversation, Message, format_timestamp, utc_now
from conversation_store.tokens import count_message_tokens
from conversation_store.validation import invalid_input, validate_content, validate_tokens

FORK_TITLE_SUFFIX = " (fork)"


def find_message(conversation: Conversation, message_id: str) -> Message:
    """The message with `message_id`. Raises MessageNotFoundError."""
    for message in conversation.messages:
        if message.id == message_id:
            return message
    raise MessageNotFoundError(conversation.id, conversation.customer_id, message_id)


def edited_message(
    original: Message, content: object, *, tokens: object, max_content_bytes: int
) -> Message:
    """`original` with new content (validated as for a new message of its role), its tokens
    counted anew unless given, and `metadata["edited_at"]` set."""
    checked = validate_content(
        content,
        role=original.role,
        has_tool_calls=bool(original.tool_calls),
        max_bytes=max_content_bytes,
    )
    counted = validate_tokens(tokens)
    with invalid_input():
        return original.model_copy(
            update={
                "content": checked,
                "tokens": count_message_tokens(checked, original.tool_calls)
                if counted is None
                else counted,
                "metadata": {**original.metadata, "edited_at": format_timestamp(utc_now())},
            },
            deep=True,
        )


def forked(source: Conversation, message_id: str, *, title: str | None) -> Conversation:
    """A new conversation with `source`'s header and its messages up to `message_id`.

    Archiving, sharing and expiry are not inherited: the fork starts active, private and kept.
    """
    end = source.messages.index(find_message(source, message_id)) + 1
    messages = [m.model_copy(deep=True) for m in source.messages[:end]]
    now = utc_now()
    return Conversation(
        id=new_conversation_id(),
        customer_id=source.customer_id,
        session_id=source.session_id,
        title=title or ((source.title or "Conversation") + FORK_TITLE_SUFFIX)[:200],
        persona=source.persona,
        org_id=source.org_id,
        metadata={
            **source.metadata,
            "forked_from": {"conversation_id": source.id, "message_id": message_id},
        },
        created_at=now,
        updated_at=now,
        message_count=len(messages),
        total_tokens=sum(m.tokens or 0 for m in messages),
        messages=messages,
    )


def same_fork(stored: Conversation, fork: Conversation) -> bool:
    """True if `stored` (found under the fork's id) is that fork: the same source and the
    same messages, as a retried create whose first attempt landed stores it."""
    return stored.metadata.get("forked_from") == fork.metadata.get("forked_from") and [
        (m.id, m.role, m.content) for m in stored.messages
    ] == [(m.id, m.role, m.content) for m in fork.messages]


def moved(conversation: Conversation, customer_id: str) -> Conversation:
    """`conversation` whole (same id, header and messages) under another customer, not
    shared: a share link names its customer, so moving revokes it."""
    document = {**conversation.to_document(), "customer_id": customer_id, "share_id": None}
    with invalid_input():
        return Conversation.model_validate(document)
