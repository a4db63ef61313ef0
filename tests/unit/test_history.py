"""Token-budget and turn windows (pure)."""

from __future__ import annotations

from conversation_store import Message, ToolCall
from conversation_store.history import message_tokens, window
from conversation_store.tokens import count_tokens, estimate_tokens


def _m(role: str, content: str | None = "x", **extra: object) -> Message:
    return Message.model_validate({"role": role, "content": content, "tokens": 10, **extra})


def test_estimate_is_a_quarter_of_the_characters_rounded_up() -> None:
    assert (estimate_tokens(""), estimate_tokens("abcd"), estimate_tokens("abcde")) == (0, 1, 2)


def test_message_cost_is_its_stored_count_or_a_fresh_count_plus_overhead() -> None:
    assert message_tokens(Message(role="user", content="abcdefgh", tokens=9)) == 9 + 4
    uncounted = Message(role="user", content="How are you today?")
    assert message_tokens(uncounted) == count_tokens("How are you today?") + 4


def test_window_never_starts_with_a_tool_result() -> None:
    call = ToolCall.model_validate({"id": "c1", "function": {"name": "f", "arguments": "{}"}})
    history = [
        _m("user"),
        _m("assistant", None, tool_calls=[call]),
        _m("tool", tool_call_id="c1"),
        _m("assistant"),
    ]
    picked = window(history, max_messages=2)
    assert [m.role for m in picked] == ["assistant"]
    assert [m.role for m in window(history, max_messages=3)] == ["assistant", "tool", "assistant"]


def test_budget_keeps_the_system_message_and_newest_messages() -> None:
    history = [_m("system"), *[_m("user" if n % 2 == 0 else "assistant") for n in range(10)]]
    picked = window(history, max_tokens=14 * 3)
    assert [m.role for m in picked] == ["system", "user", "assistant"]


def test_turns_count_user_messages_from_the_end() -> None:
    history = [_m("user", "q1"), _m("assistant", "a1"), _m("user", "q2"), _m("assistant", "a2")]
    assert [m.content for m in window(history, max_turns=1)] == ["q2", "a2"]
    assert len(window(history, max_turns=5)) == 4
    assert window(history, max_tokens=1) == []
