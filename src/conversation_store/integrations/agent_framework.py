"""A Microsoft Agent Framework `HistoryProvider` over conversation-store (`pip install
'conversation-store[agent-framework]'`, agent-framework-core 1.23 or later).

Each framework session is one conversation of one customer, found by its session id as the
conversation's `external_id` (any characters, `/` included, never hashed) and created by the
first save. Each framework `Message` is one stored message: its own JSON (`Message.to_dict()`)
in `raw`, so `get_messages` returns exactly what was saved, and a chat reading of it so the
conversation also reads well in the app, exports and history windows:

| framework content | stored as |
|---|---|
| `text` | text (one text part: a string) |
| `data` / `uri`: an image (`http(s)` or base64 `data:` URL) | an image part |
| `data`: base64 audio, or any other base64 file | an audio or a file part |
| `hosted_file` | a file part by `file_id` |
| `function_call` | a tool call (`call_id`, name, arguments) of the message |
| `function_result` (role `tool`) | `tool`: the results' text; `tool_call_id` if one result |
| only `text_reasoning` | kind `"reasoning"` |
| nothing above (usage, hosted tool calls, an unknown role) | kind `"event"` |

Saving is idempotent on the framework's message ids: a message keeps its `message_id` as the
stored id (characters a store id may not hold are %-escaped), and one without an id is given a
new one, set on the framework message itself, so saving the same messages again stores each
once. The conversation id is kept in the provider's session state, so a load or a save is one
store call once the session has been used (and the state survives `AgentSession.to_dict`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

try:
    from agent_framework import Content as AFContent
    from agent_framework import HistoryProvider
    from agent_framework import Message as AFMessage
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "conversation_store.integrations.agent_framework needs agent-framework-core: "
        "pip install 'conversation-store[agent-framework]'"
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
    ROLES,
    AudioPart,
    Content,
    ContentPart,
    FileData,
    FilePart,
    FunctionCall,
    ImagePart,
    ImageURL,
    Message,
    MessageKind,
    Role,
    TextPart,
    ToolCall,
)

DEFAULT_SESSION_ID = "default"  # a run without a session, as FileHistoryProvider names it
_STATE_KEY = "conversation_id"
_STORED_KEY = "conversation_stored"  # False: chosen by a load, not created yet
_ESCAPED = frozenset("%/\\?#")
_AUDIO_FORMATS = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav"}


class ConversationHistoryProvider(HistoryProvider):
    """Loads and stores an agent's history in a conversation of `customer_id`, one per session.

    `get_messages` returns every stored message of the session, oldest first (those of
    other writers without framework JSON as text and tool calls); `save_messages` appends,
    skipping messages already stored. `pop_messages` and `clear` remove history (the
    framework's protocol has neither). A session id of None is `DEFAULT_SESSION_ID`.
    Errors are the store's (`conversation_store.exceptions`).
    """

    DEFAULT_SOURCE_ID = "conversation_store"

    def __init__(
        self,
        manager: ConversationManager,
        customer_id: str,
        *,
        source_id: str = DEFAULT_SOURCE_ID,
        load_messages: bool = True,
        store_inputs: bool = True,
        store_context_messages: bool = False,
        store_context_from: set[str] | None = None,
        store_outputs: bool = True,
    ) -> None:
        """Raises InvalidInputError (a bad customer id)."""
        super().__init__(
            source_id,
            load_messages=load_messages,
            store_inputs=store_inputs,
            store_context_messages=store_context_messages,
            store_context_from=store_context_from,
            store_outputs=store_outputs,
        )
        self._manager = manager
        self._customer_id = validate_id(customer_id, "customer id")

    async def get_messages(
        self, session_id: str | None, *, state: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[AFMessage]:
        """The session's stored messages, oldest first; [] for a session never saved."""
        conversation_id = _stored_id(state)
        if conversation_id is not None:
            try:
                stored = await self._manager.get_messages(conversation_id, self._customer_id)
                return _framework_messages(stored)
            except ConversationNotFoundError:
                pass  # deleted meanwhile: look the session up again
        try:
            conversation = await self._manager.get_conversation_by_external_id(
                self._customer_id, _session_key(session_id)
            )
        except ConversationNotFoundError:
            _remember(state, new_conversation_id(), stored=False)  # the first save creates it
            return []
        _remember(state, conversation.id, stored=True)
        return _framework_messages(conversation.messages)

    async def save_messages(
        self,
        session_id: str | None,
        messages: Sequence[AFMessage],
        *,
        state: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Append the messages not stored yet, creating the session's conversation on the first
        save. Raises InvalidInputError (a message the store refuses; nothing is written)."""
        if not messages:
            return
        stored = to_stored_messages(messages)
        external_id = _session_key(session_id)
        conversation_id = _stored_id(state)
        if conversation_id is None and _reserved_id(state) is None:
            conversation_id = await self._find(external_id)
        if conversation_id is not None:
            try:
                await self._manager.append_messages(conversation_id, self._customer_id, stored)
                _remember(state, conversation_id, stored=True)
                return
            except ConversationNotFoundError:
                _forget(state)  # deleted meanwhile: the session starts a new conversation
        created = _reserved_id(state) or new_conversation_id()
        try:
            await self._manager.append_messages(
                created, self._customer_id, stored, create_if_missing=True, external_id=external_id
            )
        except ConflictError:  # another writer created the session's conversation first
            found = await self._find(external_id)
            if found is None:
                raise
            await self._manager.append_messages(found, self._customer_id, stored)
            created = found
        _remember(state, created, stored=True)

    async def pop_messages(
        self, session_id: str | None, n: int = 1, *, state: dict[str, Any] | None = None
    ) -> list[AFMessage]:
        """Remove the session's `n` newest messages atomically and return them, oldest first
        ([] for a session never saved). Raises InvalidInputError (`n` outside 1..1000)."""
        conversation_id = _stored_id(state) or await self._find(_session_key(session_id))
        if conversation_id is None:
            return []
        popped = await self._manager.pop_messages(conversation_id, self._customer_id, n)
        return _framework_messages(popped)

    async def clear(self, session_id: str | None, *, state: dict[str, Any] | None = None) -> None:
        """Remove every message of the session (its conversation stays, empty)."""
        conversation_id = _stored_id(state) or await self._find(_session_key(session_id))
        if conversation_id is not None:
            await self._manager.replace_messages(conversation_id, self._customer_id, [])

    async def _find(self, external_id: str) -> str | None:
        try:
            found = await self._manager.get_conversation_by_external_id(
                self._customer_id, external_id, last=1
            )
        except ConversationNotFoundError:
            return None
        return found.id


def to_stored_messages(messages: Sequence[AFMessage]) -> list[Message]:
    """The store's messages for framework messages, in order, one each; a message given twice
    (same id) is kept once. A message without `message_id` gets a new id, set on it."""
    stored: dict[str, Message] = {}
    for message in messages:
        if message.message_id is None:
            message.message_id = new_message_id()
        key = store_message_id(message.message_id)
        if key not in stored:
            stored[key] = to_stored_message(message, key)
    return list(stored.values())


def store_message_id(message_id: str) -> str:
    """The stored id of a framework message id: the same text, with `% / \\ ? #`, control
    characters, surrounding blanks and a bare `.` or `..` %-escaped (so distinct ids stay
    distinct). Raises InvalidInputError (longer than a store id may be)."""
    chars = [
        _escape(c) if c in _ESCAPED or ord(c) < 0x20 or ord(c) == 0x7F else c for c in message_id
    ]
    for ends in (range(len(chars)), reversed(range(len(chars)))):
        for index in ends:
            if not chars[index].isspace():
                break
            chars[index] = _escape(chars[index])
    escaped = "".join(chars)
    if escaped in ("", ".", ".."):
        escaped = "".join(_escape(c) for c in escaped) or "%"
    return validate_id(escaped, "message id")


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def to_stored_message(message: AFMessage, message_id: str) -> Message:
    """One framework message as a stored message with its JSON in `raw` (see the module's
    table). Raises InvalidInputError (its JSON is not JSON data)."""
    raw = _message_json(message)
    contents = [cast(dict[str, Any], c) for c in raw.get("contents") or [] if isinstance(c, dict)]
    role: Role = cast(Role, message.role) if message.role in ROLES else "assistant"
    parts = [part for c in contents if (part := _part(c)) is not None]
    calls = [
        _tool_call(c) for c in contents if c.get("type") == "function_call" and c.get("call_id")
    ]
    results = [c for c in contents if c.get("type") == "function_result"]
    kind: MessageKind = "message"
    content: Content | None = _content(parts)
    tool_call_id: str | None = None
    if message.role not in ROLES:
        kind = "event"
    elif role in ("tool", "function"):
        content = "\n".join(_result_text(r) for r in results) if results else (content or "")
        ids = [r["call_id"] for r in results if isinstance(r.get("call_id"), str)]
        tool_call_id = ids[0] if len(ids) == 1 else None
    elif content is None and not (calls and role == "assistant"):
        reasoning = any(c.get("type") == "text_reasoning" for c in contents)
        kind = "reasoning" if reasoning else "event"
    return Message(
        id=message_id,
        role=role,
        kind=kind,
        content=content if kind == "message" else None,
        tool_calls=(calls or None) if role == "assistant" and kind == "message" else None,
        tool_call_id=tool_call_id,
        name=message.author_name,
        raw=cast(JsonValue, raw),
    )


def _message_json(message: AFMessage) -> dict[str, Any]:
    try:
        return cast(dict[str, Any], json.loads(json.dumps(message.to_dict(), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"message {message.message_id!r} is not JSON data: {exc}") from exc


def _content(parts: list[ContentPart]) -> Content | None:
    if not parts:
        return None
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return parts


def _part(content: Mapping[str, Any]) -> ContentPart | None:
    kind = content.get("type")
    if kind == "text" and isinstance(content.get("text"), str) and content["text"].strip():
        return TextPart(text=content["text"])
    if kind == "hosted_file" and isinstance(content.get("file_id"), str):
        return FilePart(file=FileData(file_id=content["file_id"]))
    if kind not in ("data", "uri") or not isinstance(content.get("uri"), str):
        return None
    uri: str = content["uri"]
    media_type = str(content.get("media_type") or "")
    inline = uri.startswith("data:") and ";base64," in uri
    if media_type.startswith("image/") and (inline or uri.startswith(("http://", "https://"))):
        return ImagePart(image_url=ImageURL(url=uri))
    if not inline:
        return None
    data = uri.split(";base64,", 1)[1]
    if media_type.startswith("audio/"):
        audio_format = _AUDIO_FORMATS.get(media_type, media_type.removeprefix("audio/"))
        return AudioPart.model_validate({"input_audio": {"data": data, "format": audio_format}})
    return FilePart(file=FileData(file_data=uri))


def _tool_call(content: Mapping[str, Any]) -> ToolCall:
    arguments = content.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
    return ToolCall(
        id=str(content["call_id"]),
        function=FunctionCall(name=str(content.get("name") or ""), arguments=arguments),
    )


def _result_text(result: Mapping[str, Any]) -> str:
    value = result.get("result")
    if value is None:
        return str(result.get("exception") or "")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _framework_messages(messages: Sequence[Message]) -> list[AFMessage]:
    """Stored messages as framework messages: from `raw` when it holds one, else (another
    writer's chat messages) from the text, tool calls and tool result; others are left out."""
    result: list[AFMessage] = []
    for message in messages:
        raw = message.raw
        if isinstance(raw, dict) and raw.get("type") == "message" and "contents" in raw:
            result.append(AFMessage.from_dict(dict(raw)))
        elif message.is_chat:
            result.append(_from_chat(message))
    return result


def _from_chat(message: Message) -> AFMessage:
    contents: list[AFContent] = []
    if message.role == "tool" and message.tool_call_id:
        contents.append(AFContent.from_function_result(message.tool_call_id, result=message.text))
    elif message.text:
        contents.append(AFContent.from_text(message.text))
    for call in message.tool_calls or []:
        contents.append(
            AFContent.from_function_call(
                call.id, call.function.name, arguments=call.function.arguments
            )
        )
    return AFMessage(message.role, contents, author_name=message.name, message_id=message.id)


def _session_key(session_id: str | None) -> str:
    return DEFAULT_SESSION_ID if session_id is None else session_id


def _stored_id(state: dict[str, Any] | None) -> str | None:
    """The session's conversation id, when a load or save found or created it."""
    if state is None or state.get(_STORED_KEY) is not True:
        return None
    value = state.get(_STATE_KEY)
    return value if isinstance(value, str) else None


def _reserved_id(state: dict[str, Any] | None) -> str | None:
    """The id a load that found nothing chose for the session's conversation."""
    if state is None or state.get(_STORED_KEY) is not False:
        return None
    value = state.get(_STATE_KEY)
    return value if isinstance(value, str) else None


def _remember(state: dict[str, Any] | None, conversation_id: str, *, stored: bool) -> None:
    if state is not None:
        state[_STATE_KEY] = conversation_id
        state[_STORED_KEY] = stored


def _forget(state: dict[str, Any] | None) -> None:
    if state is not None:
        state.pop(_STATE_KEY, None)
        state.pop(_STORED_KEY, None)
