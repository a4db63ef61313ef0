"""Model ↔ document round trips (Hypothesis) and the seed schema."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from conversation_store import Conversation, Message
from conversation_store.models import ROLES, format_timestamp

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
safe_ids = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=40)

messages = st.builds(
    Message,
    id=st.none() | safe_ids.map(lambda s: f"m_{s}"),
    role=st.sampled_from(ROLES),
    content=st.none() | st.text(max_size=200),
    timestamp=times,
    tokens=st.none() | st.integers(0, 10_000),
    metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    tool_call_id=st.none() | safe_ids,
    name=st.none() | safe_ids,
)
conversations = st.builds(
    Conversation,
    id=safe_ids.map(lambda s: f"c_{s}"),
    customer_id=safe_ids,
    session_id=st.none() | st.text(max_size=30),
    title=st.none() | st.text(max_size=50),
    persona=st.none() | st.text(max_size=20),
    metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    created_at=times,
    updated_at=times,
    message_count=st.integers(0, 1000),
    total_tokens=st.integers(0, 10**6),
    messages=st.lists(messages, max_size=5),
)


@settings(max_examples=200, deadline=None)
@given(conversations)
def test_conversation_round_trips_through_json(conversation: Conversation) -> None:
    again = Conversation.model_validate_json(conversation.to_json())
    assert again == conversation
    assert again.to_document() == conversation.to_document()


@given(times)
def test_timestamps_are_utc_with_z_and_sort_as_instants(moment: datetime) -> None:
    document = Message(role="user", content="x", timestamp=moment).model_dump(mode="json")
    assert document["timestamp"].endswith("Z") and len(document["timestamp"]) == 27


@given(st.datetimes(timezones=st.just(UTC)))
def test_every_timestamp_is_written_with_four_year_digits(moment: datetime) -> None:
    written = format_timestamp(moment)

    assert len(written) == 27 and written[4] == "-" and written.endswith("Z")
    assert written[:4] == f"{moment.year:04d}"
    assert datetime.fromisoformat(written) == moment


def test_seed_document_keeps_its_fields_and_gains_counters() -> None:
    seed = {
        "id": "abc",
        "customer_id": "u1",
        "session_id": "s",
        "voicebot_version": "0.9",
        "created_at": "2025-01-24T10:30:00Z",
        "updated_at": "2025-01-24T10:35:00",
        "messages": [
            {
                "role": "user",
                "content": "Hello",
                "timestamp": "2025-01-24T10:30:00Z",
                "audio_ms": 1200,
            }
        ],
    }

    document = Conversation.model_validate(seed).to_document()

    assert document["voicebot_version"] == "0.9"
    assert document["messages"][0]["audio_ms"] == 1200
    assert document["message_count"] == 1
    assert document["updated_at"] == "2025-01-24T10:35:00.000000Z"
    assert "id" not in document["messages"][0]
