"""Pure retention rules: when a conversation with a `ttl` has expired, and cut-off times.

Cosmos DB expires an item `ttl` seconds after its last write (`_ts`). The embedded stores
apply the same rule from `updated_at`, on every read and in cleanup.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from conversation_store.exceptions import InvalidInputError
from conversation_store.models import format_timestamp, utc_now

MAX_TTL_SECONDS = 2_147_483_647  # Cosmos DB's ttl is a 32-bit signed integer
MAX_DAYS = 36_500  # a cut-off a century back; beyond it datetime arithmetic overflows


def validate_ttl(ttl: object) -> int | None:
    """Seconds to keep a conversation after its last write, or None for no expiry."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise InvalidInputError(f"ttl must be None or whole seconds in 1..{MAX_TTL_SECONDS}")
    return ttl


def is_expired(updated_at: datetime, ttl: int | None, now: datetime | None = None) -> bool:
    return ttl is not None and updated_at + timedelta(seconds=ttl) <= (now or utc_now())


def cutoff(days: object, now: datetime | None = None) -> str:
    """The stored-timestamp string `days` days before now (for `updated_before`)."""
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days <= MAX_DAYS:
        raise InvalidInputError(f"days must be a number from 0 to {MAX_DAYS}")
    return format_timestamp((now or utc_now()) - timedelta(days=days))
