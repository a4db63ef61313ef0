"""An openai-agents `Session` over conversation-store (`pip install
'conversation-store[openai-agents]'`).

Each session is one conversation, found by its session id as the conversation's
`external_id` (any characters, `/` included, never hashed) and created by the first add.
Each item is one message: the item's own JSON in `Message.raw`, so that `get_items` returns
exactly what was added, and a chat reading of it so that the conversation also reads well
in the app, exports and history windows:

| item | stored as |
|---|---|
| message (`user`, `assistant`, `system`, `developer`) | that role; its content parts |
| `function_call` | `assistant` with one tool call (`call_id`, name, arguments) and no content |
| `function_call_output` | `tool` with `tool_call_id`; its text, or its parts |
| `reasoning` | kind `"reasoning"`; its summary as text |
| any other item (hosted tool calls, references) | kind `"event"`, `tool` for `*_output` items |

A message with nothing a chat model could read (blank, or an image by file id only) is
stored as an event of its role. Parallel tool calls become consecutive assistant messages of
one call each. Messages that another writer stored without an item are read back as
`{"role", "content"}` messages when they are chat messages of those four roles, and left out
otherwise.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

try:
    from agents.items import TResponseInputItem
    from agents.memory.session_settings import (
        SessionSettings,
        coerce_session_settings,
        resolve_session_limit,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "conversation_store.integrations.openai_agents needs openai-agents: "
        "pip install 'conversation-store[openai-agents]'"
    ) from exc

from pydantic import JsonValue

from conversation_store.aio.manager import ConversationManager
from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    InvalidInputError,
)
from conversation_store.ids import new_conversation_id, new_message_id, validate_id
from conversation_store.models import (
    AudioPart,
    Content,
    ContentPart,
    FileData,
    FilePart,
    FunctionCall,
    ImagePart,
    ImageURL,
    InputAudio,
    Message,
    MessageKind,
    RefusalPart,
    Role,
    TextPart,
    ToolCall,
)
from conversation_store.tokens import count_message_tokens
from conversation_store.validation import invalid_input, validate_external_id

__all__ = ["ConversationStoreSession", "item_to_message", "message_to_item"]

T = TypeVar("T")
_CHAT_ROLES = ("user", "assistant", "system", "developer")
_TEXT_TYPES = ("input_text", "output_text", "text")
_IMAGE_DETAILS = ("auto", "low", "high")


class ConversationStoreSession:
    """The openai-agents `Session` protocol over an async `ConversationManager`.

    `session_id` is the conversation's `external_id` within `customer_id`'s conversations.
    `session_settings.limit` is the default of `get_items(limit)`. `title` and `metadata`
    are set on the conversation the first add creates. The conversation id is remembered
    after the first lookup, so later calls skip it (and look it up again if it is gone).
    Use a session from one task at a time; several sessions, in any processes, may share
    one session id, and then share its conversation.
    """

    session_settings: SessionSettings | None

    def __init__(
        self,
        session_id: str,
        *,
        manager: ConversationManager,
        customer_id: str,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        title: str | None = None,
        metadata: Mapping[str, JsonValue] | None = None,
    ) -> None:
        """Raises InvalidInputError (a bad session id, customer id or setting)."""
        self.session_id = validate_external_id(session_id)
        self.customer_id = validate_id(customer_id, "customer id")
        self.session_settings = coerce_session_settings(session_settings or SessionSettings())
        self._manager = manager
        self._title = title
        self._metadata = metadata
        self._conversation_id: str | None = None
        # The last lookup found no conversation: the next add creates it without another.
        self._missing = False

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The items oldest first: all, or the newest `limit` (default: the settings' limit;
        0 or less: none).

        Raises StoreUnavailableError.
        """
        last = resolve_session_limit(limit, self.session_settings)
        if last is not None and last <= 0:  # none, as the SDK's other sessions return
            return []
        try:
            messages = await self._again_if_gone(lambda: self._read_messages(last))
        except ConversationNotFoundError:
            self._missing = True
            return []
        return [item for item in map(message_to_item, messages) if item is not None]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Store `items` after the others, in one append; the first creates the conversation
        (in the same request, on Cosmos DB).

        Raises InvalidInputError (an item that is not JSON, or too large; nothing is stored),
        StoreUnavailableError.
        """
        if not items:
            return
        messages = [item_to_message(item) for item in items]

        async def append_to_existing() -> bool:
            conversation_id = await self._find_conversation()
            if conversation_id is not None:
                await self._manager.append_messages(conversation_id, self.customer_id, messages)
            return conversation_id is not None

        try:
            appended = not self._missing and await self._again_if_gone(append_to_existing)
        except ConversationNotFoundError:  # deleted since the lookup: made again below
            appended = False
        if not appended:
            await self._create(messages)

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove the newest item atomically and return it; None when there is none.

        Raises StoreUnavailableError.
        """

        async def pop() -> list[Message]:
            conversation_id = await self._find_conversation()
            if conversation_id is None:
                return []
            return await self._manager.pop_messages(conversation_id, self.customer_id, n=1)

        try:
            popped = await self._again_if_gone(pop)
        except ConversationNotFoundError:
            return None
        return message_to_item(popped[0]) if popped else None

    async def clear_session(self) -> None:
        """Remove every item; the conversation stays, with its title and metadata.

        Raises StoreUnavailableError.
        """

        async def clear() -> None:
            conversation_id = await self._find_conversation()
            if conversation_id is not None:
                await self._manager.clear_conversation(conversation_id, self.customer_id)

        with contextlib.suppress(ConversationNotFoundError):
            await self._again_if_gone(clear)

    async def _again_if_gone(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, and once more with a new lookup when the remembered conversation is gone
        (deleted, and perhaps made again by another session). Raises ConversationNotFoundError
        (no conversation, or gone again)."""
        remembered = self._conversation_id is not None
        try:
            return await call()
        except ConversationNotFoundError:
            self._conversation_id = None
            if not remembered:
                raise
        return await call()

    async def _find_conversation(self) -> str | None:
        """The session's conversation id, looked up once; None when it has none yet."""
        if self._conversation_id is None:
            try:
                found = await self._manager.get_conversation_by_external_id(
                    self.customer_id, self.session_id, last=1
                )
            except ConversationNotFoundError:
                self._missing = True
                return None
            self._conversation_id, self._missing = found.id, False
        return self._conversation_id

    async def _read_messages(self, last: int | None) -> list[Message]:
        """The newest `last` messages (all with None); the first read also finds the
        conversation, in the same requests. Raises ConversationNotFoundError."""
        if self._conversation_id is not None:
            return await self._manager.get_messages(
                self._conversation_id, self.customer_id, last=last
            )
        found = await self._manager.get_conversation_by_external_id(
            self.customer_id, self.session_id, last=last
        )
        self._conversation_id, self._missing = found.id, False
        # A load of the `last` newest keeps a leading system message too: not an item here.
        return found.messages if last is None else found.messages[-last:]

    async def _create(self, messages: list[Message]) -> None:
        """The conversation with its first messages: one request on Cosmos DB."""
        conversation_id = new_conversation_id()
        try:
            await self._manager.append_messages(
                conversation_id,
                self.customer_id,
                messages,
                create_if_missing=True,
                title=self._title,
                metadata=self._metadata,
                external_id=self.session_id,
            )
        except ConflictError:
            # Another session created this session's conversation first: append to that one.
            found = await self._find_conversation()
            if found is None:
                raise
            await self._manager.append_messages(found, self.customer_id, messages)
            return
        self._conversation_id, self._missing = conversation_id, False


# -- items and messages (pure) -------------------------------------------------------------


def item_to_message(item: TResponseInputItem) -> Message:
    """A new message holding `item`'s JSON in `raw`, with its chat reading (see the module
    docstring). Raises InvalidInputError (an item that is not a JSON object, or a part of
    it that has no valid chat form)."""
    raw = _as_json(item)
    with invalid_input():
        message = _chat_reading(raw)
    message.tokens = count_message_tokens(message.content, message.tool_calls)
    return message


def _chat_reading(raw: dict[str, Any]) -> Message:
    kind, role = _kind_and_role(raw)
    message = Message(id=new_message_id(), role=role, kind=kind, raw=raw)
    if raw.get("type") == "function_call":
        call = FunctionCall(name=str(raw.get("name", "")), arguments=str(raw.get("arguments", "")))
        message.tool_calls = [ToolCall(id=str(raw.get("call_id", "")), function=call)]
    elif raw.get("type") == "function_call_output":
        message.tool_call_id = str(raw.get("call_id", ""))
        message.content = _content(raw.get("output")) or ""
    elif kind == "reasoning":
        message.content = _summary_text(raw.get("summary")) or None
    elif kind == "message":
        message.content = _content(raw.get("content"))
        if not message.content or not (message.text.strip() or _has_media(message.content)):
            message.kind, message.content = "event", None  # nothing a chat model could read
    return message


def message_to_item(message: Message) -> TResponseInputItem | None:
    """The item a message holds (its `raw`); a `{"role", "content"}` message for a chat
    message of a user, assistant, system or developer stored without one; else None."""
    if isinstance(message.raw, dict):
        return cast("TResponseInputItem", message.raw)
    if message.raw is None and message.is_chat and message.role in _CHAT_ROLES:
        return cast("TResponseInputItem", {"role": message.role, "content": message.text})
    return None


def _as_json(item: object) -> dict[str, Any]:
    # The JSON the framework's own SQLiteSession keeps (`json.dumps`), so both read back alike.
    try:
        value = json.loads(json.dumps(item, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"an item must be JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInputError(f"an item must be a JSON object, not {type(item).__name__}")
    return value


def _kind_and_role(raw: Mapping[str, Any]) -> tuple[MessageKind, Role]:
    item_type = raw.get("type", "message")
    if item_type == "message" and raw.get("role") in _CHAT_ROLES:
        return "message", cast("Role", raw["role"])
    if item_type == "function_call":
        return "message", "assistant"
    if item_type == "function_call_output":
        return "message", "tool"
    if item_type == "reasoning":
        return "reasoning", "assistant"
    return "event", "tool" if str(item_type).endswith("_output") else "assistant"


def _content(value: object) -> Content | None:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return None
    parts = [part for part in map(_part, value) if part is not None]
    return parts or None


def _part(value: object) -> ContentPart | None:
    """Our chat part for a Responses content part, or None when it has no chat form."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind in _TEXT_TYPES and isinstance(value.get("text"), str):
        return TextPart(text=value["text"])
    if kind == "refusal" and isinstance(value.get("refusal"), str):
        return RefusalPart(refusal=value["refusal"])
    if kind == "input_image":
        return _image_part(value)
    audio = value.get("input_audio")
    if kind == "input_audio" and isinstance(audio, dict) and {"data", "format"} <= audio.keys():
        return AudioPart(input_audio=InputAudio(data=audio["data"], format=audio["format"]))
    if kind == "input_file" and (value.get("file_id") or value.get("file_data")):
        names = ("file_id", "file_data", "filename")
        return FilePart(file=FileData(**{k: value[k] for k in names if value.get(k)}))
    return None


def _image_part(value: Mapping[str, Any]) -> ImagePart | None:
    url = value.get("image_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
        return None  # an image by file id only: the model reads it, a chat reader cannot
    detail = value.get("detail")
    image = ImageURL(url=url, detail=detail) if detail in _IMAGE_DETAILS else ImageURL(url=url)
    return ImagePart(image_url=image)


def _has_media(content: Content) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, ImagePart | AudioPart | FilePart) for p in content
    )


def _summary_text(summary: object) -> str:
    texts = (
        [s.get("text") for s in summary if isinstance(s, dict)] if isinstance(summary, list) else []
    )
    return "\n".join(t for t in texts if isinstance(t, str) and t)
