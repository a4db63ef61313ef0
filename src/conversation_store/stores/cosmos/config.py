"""Client options shared by the sync and aio Cosmos stores."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from azure.cosmos._retry_options import RetryOptions  # public via ConnectionPolicy only
from azure.cosmos.documents import ConnectionPolicy
from azure.cosmos.partition_key import PartitionKey

from conversation_store.exceptions import InvalidInputError

DEFAULT_DATABASE = "GenAI"
DEFAULT_CONTAINER = "AI_Conversations"
PARTITION_KEY_PATH = "/customer_id"
PARTITION_KEY = PartitionKey(path=PARTITION_KEY_PATH)
# The container's default TTL: -1 turns TTL on without expiring anything by default, so a head
# expires only by its own `ttl` (without a default TTL, Cosmos DB ignores item ttl values).
NO_DEFAULT_TTL = -1


C = TypeVar("C")


def checked_credential(credential: C) -> C:
    """`credential` unchanged; a key string must be base64 (as every Cosmos DB key is).

    The SDK decodes the key only when it signs the first request, deep inside a connection
    attempt, where a typo would surface as a raw binascii traceback. Raises InvalidInputError.
    """
    if isinstance(credential, str):
        try:
            base64.b64decode(credential, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError("the Cosmos DB key is not a base64 account key") from exc
    return credential


def connection_policy() -> ConnectionPolicy:
    """SDK policy with its throttle retries off: `RetryPolicy` (tenacity) is the one retry layer.

    `retry_total=0` cannot express this (the SDK treats 0 as 'use the default of 9').
    """
    policy = ConnectionPolicy()
    policy.RetryOptions = RetryOptions(max_retry_attempt_count=0)
    return policy


def client_options(*, connection_verify: bool, transport: object | None = None) -> dict[str, Any]:
    """Keyword arguments for `CosmosClient`; TLS checks are off only for the local server."""
    extra = {"transport": transport} if transport is not None else {}
    return {
        **extra,
        "connection_policy": connection_policy(),
        # With endpoint discovery on, the SDK also retries each 503 itself (once per region,
        # plus one), multiplying our attempts. Our accounts are single-region; a multi-region
        # deployment would turn this back on and accept the extra attempts for failover.
        "enable_endpoint_discovery": False,
        "connection_verify": connection_verify,
        "retry_total": 0,
        "retry_connect": 0,
        "retry_read": 0,
        "retry_status": 0,
        "user_agent_suffix": "conversation-store",
    }
