"""Token counting: the bundled cl100k_base tokenizer, and the estimate without it."""

from __future__ import annotations

import json
import subprocess
import sys

from conversation_store.models import ToolCall
from conversation_store.tokens import (
    ESTIMATE,
    count_message_tokens,
    count_tokens,
    tokenizer_name,
)


def test_the_real_tokenizer_is_used_when_installed() -> None:
    assert tokenizer_name() == "cl100k_base"
    # Known cl100k_base counts (OpenAI's tokenizer page).
    assert count_tokens("Hello world, how are you?") == 7
    assert count_tokens("tiktoken is great!") == 6
    assert count_tokens("") == count_tokens(None) == 0


def test_special_token_text_is_counted_as_plain_text() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_tool_call_names_and_arguments_count() -> None:
    call = ToolCall.model_validate(
        {"id": "c1", "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}}
    )
    assert count_message_tokens(None, [call]) == count_tokens('get_weather\n{"city": "Tokyo"}')


def test_without_tiktoken_the_estimate_is_used_and_nothing_downloads() -> None:
    script = (
        "import sys, json; sys.modules['tiktoken'] = None\n"
        "from conversation_store.tokens import tokenizer_name, count_tokens\n"
        "print(json.dumps([tokenizer_name(), count_tokens('abcdefghi')]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out) == [ESTIMATE, 3]
