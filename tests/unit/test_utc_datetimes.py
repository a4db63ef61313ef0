"""Every datetime field of the models (`models.UtcDatetime`) holds the instant it was given, in
UTC, whatever form it came in: a datetime object (naive ones read as UTC), ISO 8601 text with
any offset, or JSON; text with a zero offset is kept as pydantic-core parses it, which must be
the same instant with a zero offset. Anything that is not such an instant is a ValueError."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from conversation_store import Conversation, ConversationSummary, Message, SearchHit
from conversation_store.models import ShareLink, format_timestamp

OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Away from the ends of datetime's range, where a conversion to UTC overflows (tested below).
INSTANTS = st.datetimes(
    min_value=datetime(1000, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.one_of(st.none(), OFFSETS),
)

# (model, field, the other fields it needs)
FIELDS: list[tuple[type[BaseModel], str, dict[str, Any]]] = [
    (Message, "timestamp", {"role": "user"}),
    (Conversation, "created_at", {"id": "c", "customer_id": "u"}),
    (Conversation, "updated_at", {"id": "c", "customer_id": "u"}),
    (Conversation, "header_updated_at", {"id": "c", "customer_id": "u"}),
    (
        ConversationSummary,
        "created_at",
        {"id": "c", "customer_id": "u", "updated_at": "2026-01-01T00:00:00Z"},
    ),
    (ShareLink, "expires_at", {"token_hash": "h", "customer_id": "u", "conversation_id": "c"}),
    (SearchHit, "timestamp", {"conversation_id": "c", "role": "user", "snippet": "s"}),
]
FIELD_IDS = [f"{model.__name__}.{field}" for model, field, _ in FIELDS]


def expected_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_back(model: type[BaseModel], field: str, others: dict[str, Any], value: object) -> Any:
    return getattr(model.model_validate({**others, field: value}), field)


def read_back_json(model: type[BaseModel], field: str, others: dict[str, Any], text: str) -> Any:
    return getattr(model.model_validate_json(json.dumps({**others, field: text})), field)


def assert_utc_instant(got: object, wanted: datetime) -> None:
    assert isinstance(got, datetime)
    assert got == wanted
    assert got.utcoffset() == timedelta(0)
    assert format_timestamp(got) == format_timestamp(wanted)


@pytest.mark.parametrize(("model", "field", "others"), FIELDS, ids=FIELD_IDS)
@given(value=INSTANTS)
def test_every_form_of_an_instant_reads_as_that_instant_in_utc(
    model: type[BaseModel], field: str, others: dict[str, Any], value: datetime
) -> None:
    wanted = expected_utc(value)
    assert_utc_instant(read_back(model, field, others, value), wanted)
    assert_utc_instant(read_back(model, field, others, value.isoformat()), wanted)
    assert_utc_instant(read_back_json(model, field, others, value.isoformat()), wanted)
    stored = format_timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))
    assert_utc_instant(read_back(model, field, others, stored), wanted)
    assert_utc_instant(read_back_json(model, field, others, stored), wanted)


@pytest.mark.parametrize(("model", "field", "others"), FIELDS, ids=FIELD_IDS)
def test_a_datetime_object_at_offset_zero_is_kept_in_utc(
    model: type[BaseModel], field: str, others: dict[str, Any]
) -> None:
    value = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(0), "GMT"))
    got = read_back(model, field, others, value)
    assert got == value
    assert got.tzinfo is UTC


NOT_INSTANTS = [
    "",
    "yesterday",
    "2026-13-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T25:00:00Z",
    "2026-01-01T00:00:00+24:00",
    "0001-01-01T00:00:00+00:01",  # before year 1 once in UTC
    "9999-12-31T23:59:59-00:01",  # after year 9999 once in UTC
    "2026-01-01T00:00:00Z\x00",
    "\uff12\uff10\uff12\uff16-01-01T00:00:00Z",  # fullwidth digits
    "2026-01-01T00:00:00\ud800Z",
]


@pytest.mark.parametrize(("model", "field", "others"), FIELDS, ids=FIELD_IDS)
@pytest.mark.parametrize("text", NOT_INSTANTS)
def test_what_is_not_an_instant_is_one_value_error(
    model: type[BaseModel], field: str, others: dict[str, Any], text: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        read_back(model, field, others, text)
    assert [error["type"] for error in raised.value.errors()] == ["utc_datetime"]
    assert isinstance(raised.value, ValueError)


@given(text=st.text(max_size=40))
def test_arbitrary_text_is_an_instant_in_utc_or_a_value_error(text: str) -> None:
    try:
        got = read_back(Message, "timestamp", {"role": "user"}, text)
    except ValidationError as error:
        assert [e["type"] for e in error.errors()] == ["utc_datetime"]
        return
    assert isinstance(got, datetime)
    assert got.utcoffset() == timedelta(0)
