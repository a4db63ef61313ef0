"""A LangChain `BaseChatMessageHistory` over conversation-store (`pip install
'conversation-store[langchain]'`).

Each LangChain session is one conversation, found by its session id as the conversation's
`external_id` (any characters, `/` included) and created by the first add. Every message is
stored twice over in one item: LangChain's own `message_to_dict` JSON in `Message.raw`, so
that reading returns exactly the messages added, and a chat message (role, content parts,
tool calls) so that the conversation also reads well in the app, exports and history windows:

| LangChain | stored role | also mapped |
|---|---|---|
| `HumanMessage` | `user` | content text or parts |
| `AIMessage` | `assistant` | `tool_calls` (arguments as a JSON string) |
| `ToolMessage` | `tool` | `tool_call_id` |
| `SystemMessage` | `system` | |
| `FunctionMessage` | `function` | `name` |
| `ChatMessage` | its role if it is one of ours, else `user` | |

Messages that another writer stored without LangChain's JSON are read back from their role
and content; reasoning and event items are left out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import suppress
from typing import Any, cast

from pydantic import JsonValue

from conversation_store import aio
from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    InvalidInputError,
    UnsupportedOperationError,
)
from conversation_store.ids import new_conversation_id, new_message_id, validate_id
from conversation_store.manager import ConversationManager
from conversation_store.models import ROLES, Message, Role, ToolCall
from conversation_store.validation import validate_external_id

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        ChatMessage,
        FunctionMessage,
        HumanMessage,
        InvalidToolCall,
        SystemMessage,
        ToolMessage,
        message_to_dict,
        messages_from_dict,
    )
    from langchain_core.messages import ToolCall as LCToolCall
    from langchain_core.messages.tool import invalid_tool_call, tool_call
    from langchain_core.runnables.config import run_in_executor
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "conversation_store.integrations.langchain needs langchain-core: "
        "pip install 'conversation-store[langchain]'"
    ) from exc

__all__ = ["ConversationStoreChatMessageHistory", "from_stored", "to_stored"]

_MIME_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3"}


# -- LangChain -> stored -------------------------------------------------------------------


def to_stored(message: BaseMessage) -> Message:
    """The stored form of `message`: a chat message with a new id, LangChain's JSON in `raw`.

    Raises InvalidInputError for a message our chat model cannot hold (a RemoveMessage, say).
    """
    if not isinstance(message, BaseMessage):
        raise InvalidInputError(f"expected a LangChain message, got {type(message).__name__}")
    role = _role(message)
    fields: dict[str, Any] = {"content": _content(message.content)}
    if isinstance(message, AIMessage) and message.tool_calls:
        fields["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
            }
            for call in message.tool_calls
            if call.get("id")
        ] or None
    if isinstance(message, ToolMessage):
        fields["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        fields["name"] = message.name
    try:
        return Message(id=new_message_id(), role=role, raw=_json(message), **fields)
    except ValueError as exc:  # pydantic's ValidationError: a shape our model refuses
        raise InvalidInputError(f"cannot store this {type(message).__name__}: {exc}") from exc


def _role(message: BaseMessage) -> Role:
    roles: tuple[tuple[type[BaseMessage], Role], ...] = (
        (HumanMessage, "user"),
        (AIMessage, "assistant"),
        (ToolMessage, "tool"),
        (SystemMessage, "system"),
        (FunctionMessage, "function"),
    )
    for kind, role in roles:
        if isinstance(message, kind):
            return role
    if isinstance(message, ChatMessage):
        return cast(Role, message.role) if message.role in ROLES else "user"
    raise InvalidInputError(f"a {type(message).__name__} is not a chat message to store")


def _json(message: BaseMessage) -> JsonValue:
    # A round trip through JSON: what is stored is what every backend gives back.
    try:
        return cast(JsonValue, json.loads(json.dumps(message_to_dict(message), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"the message is not JSON: {exc}") from exc


def _content(content: str | list[str | dict[str, Any]]) -> str | list[dict[str, Any]] | None:
    """LangChain's content as our content: the text, or the parts we have a type for (text,
    image, audio, file, refusal; others, such as reasoning blocks, live in `raw` only)."""
    if isinstance(content, str):
        return content
    parts = [part for block in content if (part := _part(block)) is not None]
    return parts or None


def _part(block: str | dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(block, str):
        return {"type": "text", "text": block}
    kind = block.get("type")
    if kind in ("text", "refusal", "input_audio"):
        return block
    if kind == "image_url":
        image = block["image_url"]
        return {
            "type": "image_url",
            "image_url": image if isinstance(image, dict) else {"url": image},
        }
    if kind == "image":
        url = _source_url(block)
        return None if url is None else {"type": "image_url", "image_url": {"url": url}}
    if kind == "audio":
        data = block.get("base64") or block.get("data")
        mime = str(block.get("mime_type", ""))
        audio_format = _MIME_AUDIO_FORMATS.get(mime, mime.removeprefix("audio/") or "wav")
        return (
            None
            if data is None
            else {"type": "input_audio", "input_audio": {"data": data, "format": audio_format}}
        )
    if kind == "file":
        return _file_part(block)
    return None


def _source_url(block: dict[str, Any]) -> str | None:
    """The URL of a LangChain image block: `url`, or its base64 data as a `data:` URL."""
    if block.get("url"):
        return str(block["url"])
    data = block.get("base64") or (
        block.get("data") if block.get("source_type") == "base64" else None
    )
    if data is None:
        return None
    return f"data:{block.get('mime_type', 'image/png')};base64,{data}"


def _file_part(block: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(block.get("file"), dict):
        return block  # already OpenAI's shape
    file: dict[str, Any] = {}
    if block.get("file_id") or block.get("id"):
        file["file_id"] = block.get("file_id") or block.get("id")
    elif block.get("base64") or block.get("data"):
        file["file_data"] = block.get("base64") or block.get("data")
    else:
        return None
    filename = block.get("filename") or (block.get("extras") or {}).get("filename")
    if filename:
        file["filename"] = filename
    return {"type": "file", "file": file}


# -- stored -> LangChain -------------------------------------------------------------------


def from_stored(message: Message) -> BaseMessage:
    """The LangChain message `message` holds: its `raw` JSON if LangChain wrote it, else one
    built from its role and content."""
    raw = message.raw
    if isinstance(raw, dict) and set(raw) == {"type", "data"} and isinstance(raw["data"], dict):
        return messages_from_dict([raw])[0]
    content: str | list[str | dict[str, Any]] = (
        message.content
        if isinstance(message.content, str)
        else [part.model_dump(mode="json") for part in message.content or []]
    )
    if message.role == "user":
        return HumanMessage(content=content, name=message.name)
    if message.role == "assistant":
        calls, invalid = _tool_calls(message.tool_calls or [])
        return AIMessage(
            content=content, tool_calls=calls, invalid_tool_calls=invalid, name=message.name
        )
    if message.role == "tool":
        return ToolMessage(content=content, tool_call_id=message.tool_call_id or "")
    if message.role == "system":
        return SystemMessage(content=content)
    if message.role == "function":
        return FunctionMessage(content=content, name=message.name or "")
    return ChatMessage(content=content, role=message.role)


def _tool_calls(calls: list[ToolCall]) -> tuple[list[LCToolCall], list[InvalidToolCall]]:
    """Our tool calls as LangChain's: those whose arguments are not a JSON object are
    LangChain's invalid tool calls, their arguments kept as text."""
    valid: list[LCToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in calls:
        try:
            args = json.loads(call.function.arguments)
        except ValueError:
            args = None
        if isinstance(args, dict):
            valid.append(tool_call(name=call.function.name, args=args, id=call.id))
        else:
            invalid.append(
                invalid_tool_call(
                    name=call.function.name, args=call.function.arguments, id=call.id, error=None
                )
            )
    return valid, invalid


def _chat(messages: Sequence[Message]) -> list[BaseMessage]:
    return [from_stored(m) for m in messages if m.is_chat]


# -- the history ---------------------------------------------------------------------------


class ConversationStoreChatMessageHistory(BaseChatMessageHistory):
    """The messages of one LangChain session, kept in one conversation of `customer_id`.

    The sync methods (`messages`, `add_messages`, `clear`, `pop_last`) use `manager`; the
    async ones (`aget_messages`, `aadd_messages`, `aclear`, `apop_last`) use `async_manager`,
    or, without one, run the sync call on a worker thread as LangChain's base class does.
    A sync call without a sync manager raises UnsupportedOperationError (the library never
    starts an event loop). The managers stay the caller's: this history never closes them.

    The conversation is created by the first add, with `external_id=session_id`. Once this
    object has found or created it, it remembers its id and skips the lookup by session id.
    """

    def __init__(
        self,
        session_id: str,
        *,
        customer_id: str,
        manager: ConversationManager | None = None,
        async_manager: aio.ConversationManager | None = None,
    ) -> None:
        """Raises InvalidInputError (no manager, a bad session or customer id)."""
        if manager is None and async_manager is None:
            raise InvalidInputError("pass manager=, async_manager= or both")
        self.session_id = validate_external_id(session_id)
        self.customer_id = validate_id(customer_id, "customer id")
        self._manager = manager
        self._async_manager = async_manager
        self._conversation_id: str | None = None

    # -- sync --------------------------------------------------------------------------

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """Every LangChain message of the session, oldest first ([] before the first add)."""
        manager = self._sync()
        if self._conversation_id is not None:
            with suppress(ConversationNotFoundError):  # else deleted since: look it up again
                return _chat(manager.get_messages(self._conversation_id, self.customer_id))
        try:
            found = manager.get_conversation_by_external_id(self.customer_id, self.session_id)
        except ConversationNotFoundError:
            return []
        self._conversation_id = found.id
        return _chat(found.messages)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store `messages` in one write (one request on Cosmos DB once the conversation is
        known), creating the session's conversation on the first add.

        Raises InvalidInputError (a message our chat model cannot hold; nothing is written).
        """
        stored = [to_stored(m) for m in messages]
        if not stored:
            return
        manager = self._sync()
        conversation_id = self._conversation_id or self._find(manager)
        if conversation_id is None:
            conversation_id = self._create(manager, stored)
        else:
            try:
                manager.append_messages(conversation_id, self.customer_id, stored)
            except ConversationNotFoundError:  # deleted since it was found
                conversation_id = self._create(manager, stored)
        self._conversation_id = conversation_id

    def clear(self) -> None:
        """Remove every message; the conversation stays, empty."""
        manager = self._sync()
        conversation_id = self._conversation_id or self._find(manager)
        if conversation_id is not None:
            manager.clear_conversation(conversation_id, self.customer_id)

    def pop_last(self, n: int = 1) -> list[BaseMessage]:
        """Remove the `n` newest stored messages in one atomic write and return them, oldest
        first ([] when the session has none; a reasoning or event item another writer stored
        counts in `n` but is not returned). LangChain's base class has no such call."""
        manager = self._sync()
        conversation_id = self._conversation_id or self._find(manager)
        if conversation_id is None:
            return []
        return _chat(manager.pop_messages(conversation_id, self.customer_id, n=n))

    # -- async -------------------------------------------------------------------------

    async def aget_messages(self) -> list[BaseMessage]:
        """`messages`, over the async manager."""
        manager = self._async_manager
        if manager is None:
            return await super().aget_messages()
        if self._conversation_id is not None:
            with suppress(ConversationNotFoundError):
                stored = await manager.get_messages(self._conversation_id, self.customer_id)
                return _chat(stored)
        try:
            found = await manager.get_conversation_by_external_id(self.customer_id, self.session_id)
        except ConversationNotFoundError:
            return []
        self._conversation_id = found.id
        return _chat(found.messages)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """`add_messages`, over the async manager."""
        manager = self._async_manager
        if manager is None:
            return await super().aadd_messages(messages)
        stored = [to_stored(m) for m in messages]
        if not stored:
            return None
        conversation_id = self._conversation_id or await self._afind(manager)
        if conversation_id is None:
            conversation_id = await self._acreate(manager, stored)
        else:
            try:
                await manager.append_messages(conversation_id, self.customer_id, stored)
            except ConversationNotFoundError:
                conversation_id = await self._acreate(manager, stored)
        self._conversation_id = conversation_id
        return None

    async def aclear(self) -> None:
        """`clear`, over the async manager."""
        manager = self._async_manager
        if manager is None:
            return await super().aclear()
        conversation_id = self._conversation_id or await self._afind(manager)
        if conversation_id is not None:
            await manager.clear_conversation(conversation_id, self.customer_id)
        return None

    async def apop_last(self, n: int = 1) -> list[BaseMessage]:
        """`pop_last`, over the async manager (or the sync one on a worker thread)."""
        manager = self._async_manager
        if manager is None:
            return await run_in_executor(None, self.pop_last, n)
        conversation_id = self._conversation_id or await self._afind(manager)
        if conversation_id is None:
            return []
        return _chat(await manager.pop_messages(conversation_id, self.customer_id, n=n))

    # -- shared ------------------------------------------------------------------------

    def _sync(self) -> ConversationManager:
        if self._manager is None:
            raise UnsupportedOperationError(
                "this history has only an async manager: use the async calls (ainvoke, "
                "aget_messages, ...) or pass manager="
            )
        return self._manager

    def _create(self, manager: ConversationManager, stored: list[Message]) -> str:
        """Create the session's conversation with `stored` in one write; its id."""
        conversation_id = new_conversation_id()
        try:
            manager.append_messages(
                conversation_id,
                self.customer_id,
                stored,
                create_if_missing=True,
                external_id=self.session_id,
            )
        except ConflictError:  # another writer created the session's conversation first
            found = self._find(manager)
            if found is None:
                raise
            manager.append_messages(found, self.customer_id, stored)
            return found
        return conversation_id

    async def _acreate(self, manager: aio.ConversationManager, stored: list[Message]) -> str:
        conversation_id = new_conversation_id()
        try:
            await manager.append_messages(
                conversation_id,
                self.customer_id,
                stored,
                create_if_missing=True,
                external_id=self.session_id,
            )
        except ConflictError:
            found = await self._afind(manager)
            if found is None:
                raise
            await manager.append_messages(found, self.customer_id, stored)
            return found
        return conversation_id

    def _find(self, manager: ConversationManager) -> str | None:
        """The id of the session's conversation, None if it has none yet."""
        try:
            found = manager.get_conversation_by_external_id(
                self.customer_id, self.session_id, last=1
            )
        except ConversationNotFoundError:
            return None
        return found.id

    async def _afind(self, manager: aio.ConversationManager) -> str | None:
        try:
            found = await manager.get_conversation_by_external_id(
                self.customer_id, self.session_id, last=1
            )
        except ConversationNotFoundError:
            return None
        return found.id
