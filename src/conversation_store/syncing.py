"""How a transfer between stores brings the target's copy of a conversation up to date.

The last writer wins wherever the stores can tell who wrote last: the header (title, archived,
summary, TTL, metadata, ...) comes from the copy written last (`written_at`); a message both
copies hold comes from the copy that wrote it last (`metadata.edited_at`, else its timestamp);
messages only the source holds are appended. A message whose role differs between the copies
is not one message edited twice but two that share an id: the conversation is refused
(ConflictError) rather than either being overwritten. Nothing is deleted: a message only the target
holds may have been written there after the switch-over, which cannot be told apart from one
deleted in the source since the last run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import JsonValue

from conversation_store.exceptions import ConflictError
from conversation_store.models import HEADER_FIELDS, Conversation, Message, format_timestamp

SyncOutcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class SyncPlan:
    """The writes that bring the target's copy up to date: header fields to set, messages to
    replace (same id), messages to append (in order)."""

    header: dict[str, JsonValue] = field(default_factory=dict)
    replaced: list[Message] = field(default_factory=list)
    appended: list[Message] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.header or self.replaced or self.appended)


def plan_sync(source: Conversation, target: Conversation) -> SyncPlan:
    """What to write to `target` (loaded whole) so it holds what `source` added or changed.

    Raises ConflictError.
    """
    held = {m.id: m for m in target.messages if m.id is not None}
    for message in source.messages:
        if message.id in held and held[message.id].role != message.role:
            raise ConflictError(
                f"conversation {source.id!r}: message {message.id!r} has role "
                f"{message.role!r} in the source but {held[message.id].role!r} in the target"
            )
    return SyncPlan(
        header=_newer_header(source, target),
        replaced=[
            message
            for message in source.messages
            if message.id in held
            and _body(message) != _body(held[message.id])
            and _written_at(message) > _written_at(held[message.id])
        ],
        appended=missing_messages(source, target),
    )


def _newer_header(source: Conversation, target: Conversation) -> dict[str, JsonValue]:
    if source.written_at <= target.written_at:  # a header change moves only `written_at`
        return {}
    theirs, ours = source.to_document(), target.to_document()
    return {
        name: theirs.get(name)
        for name in HEADER_FIELDS
        # A share link is the store's own record: copying its hash never carries the link.
        if name != "share_id" and theirs.get(name) != ours.get(name)
    }


def missing_messages(source: Conversation, target: Conversation) -> list[Message]:
    """The messages of `source` that `target` lacks, in order: by id, and by position for
    id-less (seed) messages. Imports and migrations both append exactly these."""
    held = {m.id for m in target.messages if m.id is not None}
    return [
        message
        for position, message in enumerate(source.messages)
        if (message.id not in held if message.id is not None else position >= len(target.messages))
    ]


def _body(message: Message) -> dict[str, object]:
    return message.model_dump(mode="json")


def _written_at(message: Message) -> str:
    edited = message.metadata.get("edited_at")
    return edited if isinstance(edited, str) else format_timestamp(message.timestamp)
