"""Pure export and import: lossless JSON (the stored documents) and readable Markdown.

An export of one customer is a bundle: `{"format": "conversation-store/export", "version": 1,
"conversations": [<document>, ...]}`. Import reads a bundle, one document or a list of
documents, validates all of them before anything is written, and plans each one against what
is stored, so importing the same file twice changes nothing.

Markdown shows text (and text parts) as text, every other part as a placeholder line
(`[image]`, `[audio: wav]`, `[file: report.pdf]`), and a refusal as `[refusal] <its text>`;
reasoning and event items appear in order under their kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from conversation_store.exceptions import ConflictError, InvalidInputError
from conversation_store.models import (
    AudioPart,
    ContentPart,
    Conversation,
    FilePart,
    ImagePart,
    ImportAction,
    Message,
    RefusalPart,
    TextPart,
    format_timestamp,
    utc_now,
)
from conversation_store.syncing import missing_messages
from conversation_store.validation import (
    DEFAULT_MAX_CONTENT_BYTES,
    validate_document,
    validate_export_format,
    validate_import_owners,
    validate_import_size,
)

BUNDLE_FORMAT = "conversation-store/export"
BUNDLE_VERSION = 1

_ROLE_HEADINGS = {
    "system": "System",
    "developer": "Developer",
    "user": "User",
    "assistant": "Assistant",
    "tool": "Tool",
    "function": "Function",
}


def conversation_to_json(conversation: Conversation) -> str:
    """The conversation document as indented JSON; `Conversation.model_validate` reads it back."""
    return json.dumps(conversation.to_document(), ensure_ascii=False, indent=2) + "\n"


def conversation_to_markdown(conversation: Conversation) -> str:
    """A readable transcript: the title, when it was created, then each message under its role."""
    title = conversation.title or "Conversation"
    lines = [
        f"# {_one_line(title)}",
        "",
        f"- Conversation: `{conversation.id}`",
        f"- Created: {format_timestamp(conversation.created_at)}",
        f"- Messages: {conversation.message_count}",
    ]
    for message in conversation.messages:
        lines += ["", *_message_lines(message)]
    return "\n".join(lines) + "\n"


def bundle_to_json(conversations: Iterable[Conversation]) -> str:
    """Many conversations as one JSON bundle that `parse_import` reads back."""
    bundle = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "exported_at": format_timestamp(utc_now()),
        "conversations": [c.to_document() for c in conversations],
    }
    return json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"


def bundle_to_markdown(conversations: Iterable[Conversation]) -> str:
    return "\n---\n\n".join(conversation_to_markdown(c) for c in conversations)


def render_export(conversations: Iterable[Conversation], format: object) -> str:
    """A bundle in `format` ("json" or "markdown"). Raises InvalidInputError."""
    if validate_export_format(format) == "json":
        return bundle_to_json(conversations)
    return bundle_to_markdown(conversations)


def parse_import(
    data: object,
    *,
    customer_id: str | None = None,
    max_content_bytes: int = DEFAULT_MAX_CONTENT_BYTES,
) -> list[Conversation]:
    """The conversations in a bundle, a single document or a list of documents.

    Every document is validated first, with the limits of appends (ids, roles, content,
    titles, metadata, timestamps, tokens, nesting, no repeated message id), so a bad file is
    refused whole; with `customer_id`, so is a file holding any other customer's document.
    Counters are recomputed from the messages the file holds. Raises InvalidInputError.
    """
    if isinstance(data, str | bytes):
        validate_import_size(data)
        try:
            data = json.loads(data)
        except RecursionError as exc:
            raise InvalidInputError("import is nested too deeply") from exc
        except ValueError as exc:
            raise InvalidInputError(f"import is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and data.get("format") == BUNDLE_FORMAT:
        if data.get("version") != BUNDLE_VERSION:
            raise InvalidInputError(f"unsupported export version {data.get('version')!r}")
        data = data.get("conversations")
    documents = data if isinstance(data, list) else [data]
    conversations = [
        validate_document(doc, n, max_content_bytes=max_content_bytes)
        for n, doc in enumerate(documents)
    ]
    validate_import_owners(conversations, customer_id)
    return conversations


def plan_import(
    incoming: Conversation, stored: Conversation | None
) -> tuple[ImportAction, list[Message]]:
    """What importing `incoming` over `stored` (the same conversation, loaded whole) does.

    Messages already stored (same id, or same position for id-less seed messages) are kept;
    the rest are appended. A stored message with the same id but other content would be
    overwritten, so the import is refused: ConflictError.
    """
    if stored is None:
        return "create", list(incoming.messages)
    by_id = {m.id: m for m in stored.messages if m.id is not None}
    for message in incoming.messages:
        existing = by_id.get(message.id) if message.id is not None else None
        if existing is not None and _compared(existing) != _compared(message):
            raise ConflictError(
                f"conversation {incoming.id!r}: message {message.id!r} differs from the stored "
                "one; importing would overwrite it"
            )
    missing = missing_messages(incoming, stored)
    return ("merge" if missing else "unchanged"), missing


def _compared(message: Message) -> tuple[object, ...]:
    """What an import must find unchanged in a stored message of the same id."""
    return (message.role, message.kind, message.content)


def _message_lines(message: Message) -> list[str]:
    heading = _ROLE_HEADINGS.get(message.role, message.role.title())
    if message.name:
        heading += f" ({_one_line(message.name)})"
    if not message.is_chat:
        heading += f" · {message.kind}"
    lines = [f"## {heading}", "", f"*{format_timestamp(message.timestamp)}*", ""]
    if isinstance(message.content, str):
        if message.content:
            lines.append(message.content)
    else:
        lines += [_part_line(part) for part in message.content or []]
    for call in message.tool_calls or []:
        lines += [
            f"Tool call `{call.function.name}` (`{call.id}`):",
            "",
            "```json",
            call.function.arguments,
            "```",
        ]
    if message.tool_call_id:
        lines.append(f"(result of tool call `{message.tool_call_id}`)")
    return lines


def _part_line(part: ContentPart) -> str:
    """A text part as its text; any other part as a one-line placeholder."""
    if isinstance(part, TextPart):
        return part.text
    if isinstance(part, RefusalPart):
        return f"[refusal] {part.refusal}"
    if isinstance(part, ImagePart):
        return "[image]"
    if isinstance(part, AudioPart):
        return f"[audio: {_one_line(part.input_audio.format)}]"
    name = part.file.filename if isinstance(part, FilePart) else None
    return f"[file: {_one_line(name)}]" if name else "[file]"


def _one_line(text: str) -> str:
    return " ".join(text.split())
