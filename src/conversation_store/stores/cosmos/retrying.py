"""Retries of transient Cosmos faults: the single retry layer (the SDK's own are turned off)."""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from conversation_store.stores.cosmos.errors import is_transient, retry_after_seconds


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts, exponential backoff with full jitter, and a server's retry-after honoured.

    The defaults give up after 6 attempts or 20 s, whichever comes first.
    """

    attempts: int = 6
    initial_backoff: float = 0.1
    max_backoff: float = 4.0
    max_total_seconds: float = 20.0

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.initial_backoff, max=self.max_backoff)
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc) if exc is not None else None
        return min(asked, self.max_backoff * 4) if asked is not None else backoff(state)

    def _options(self) -> dict[str, object]:
        return {
            "stop": stop_after_attempt(self.attempts) | stop_after_delay(self.max_total_seconds),
            "wait": self._wait,
            "retry": retry_if_exception(is_transient),
            "reraise": True,
        }

    def retrying(self) -> Retrying:
        return Retrying(**self._options())  # type: ignore[arg-type]

    def async_retrying(self) -> AsyncRetrying:
        return AsyncRetrying(**self._options())  # type: ignore[arg-type]
