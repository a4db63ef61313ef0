"""Pure export of a conversation: lossless JSON (the stored document) and readable Markdown."""

from __future__ import annotations

import json

from .models import Conversation, Message, format_timestamp

_ROLE_HEADINGS = {
    "system": "System",
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


def _message_lines(message: Message) -> list[str]:
    heading = _ROLE_HEADINGS.get(message.role, message.role.title())
    if message.name:
        heading += f" ({_one_line(message.name)})"
    lines = [f"## {heading}", "", f"*{format_timestamp(message.timestamp)}*", ""]
    if message.content:
        lines.append(message.content)
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


def _one_line(text: str) -> str:
    return " ".join(text.split())
