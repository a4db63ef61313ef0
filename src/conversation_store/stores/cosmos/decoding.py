"""Models from the items the Cosmos SDK returns: the messages of a load validated in bulk.

The messages of a head and its segments are validated by pydantic-core in one call over the
whole list, then the header; the header's validation takes the `Message` instances as they
are (pydantic does not validate a model instance twice).
"""

from __future__ import annotations

from typing import Any

from conversation_store.decoding import messages_from_documents
from conversation_store.models import Conversation


def decoded_conversation(header: dict[str, Any], messages: list[Any]) -> Conversation:
    """The conversation of a stored header (without its messages) and its messages.

    Raises pydantic's ValidationError (a ValueError) for a field that does not validate.
    """
    data = {**header, "messages": messages_from_documents(messages)}
    if "message_count" not in header:  # a seed document: its counters come from its messages
        data["message_count"] = len(messages)
        data.setdefault(
            "total_tokens", sum(m.get("tokens") or 0 for m in messages if isinstance(m, dict))
        )
    return Conversation.model_validate(data)
