"""ULIDs: 26 Crockford base32 digits of a 128-bit value, sorting as the values do."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from conversation_store.ids import new_conversation_id, new_message_id, new_ulid, ulid_text

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
VALUES = st.integers(min_value=0, max_value=2**128 - 1)


def _digits(value: int) -> str:
    """The oracle: base 32 by repeated division, padded to 26 digits."""
    digits = ""
    for _ in range(26):
        value, digit = divmod(value, 32)
        digits = CROCKFORD[digit] + digits
    return digits


@given(VALUES)
def test_a_value_is_written_as_its_26_base32_digits(value: int) -> None:
    assert ulid_text(value) == _digits(value)


@given(VALUES, VALUES)
def test_texts_sort_as_their_values(a: int, b: int) -> None:
    assert (ulid_text(a) < ulid_text(b)) == (a < b)


def test_the_extremes() -> None:
    assert ulid_text(0) == "0" * 26
    assert ulid_text(2**128 - 1) == "7" + "Z" * 25


def test_new_ids_carry_the_time_in_their_first_ten_digits() -> None:
    before = int(time.time() * 1000)
    ulid = new_ulid()
    after = int(time.time() * 1000)
    stamp = 0
    for digit in ulid[:10]:
        stamp = stamp * 32 + CROCKFORD.index(digit)
    assert before <= stamp <= after
    assert len({new_ulid() for _ in range(1_000)}) == 1_000
    assert new_conversation_id().startswith("c_") and new_message_id().startswith("m_")
