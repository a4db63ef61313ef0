"""Pure retention rules: when a conversation with a `ttl` has expired, and cut-off times.

Cosmos DB expires an item `ttl` seconds after its last write (`_ts`). The other stores apply
the same rule from `Conversation.written_at` (the later of `updated_at`, the last activity,
and `header_updated_at`), on every read and in cleanup.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from conversation_store.models import format_timestamp, utc_now

MAX_TTL_SECONDS = 2_147_483_647  # Cosmos DB's ttl is a 32-bit signed integer


def is_expired(updated_at: datetime, ttl: int | None, now: datetime | None = None) -> bool:
    # Measured from `updated_at` in seconds: adding `ttl` to a date overflows near year 9999,
    # and so does a timedelta of a ttl an older version or a hand-edited row let through.
    return ttl is not None and ((now or utc_now()) - updated_at).total_seconds() >= ttl


def cutoff(days: float, now: datetime | None = None) -> str:
    """The stored-timestamp string `days` days before now (`validation.validate_days` has
    checked `days`)."""
    return format_timestamp((now or utc_now()) - timedelta(days=days))
