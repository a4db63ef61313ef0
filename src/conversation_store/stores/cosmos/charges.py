"""Request-unit charges reported per store operation, for callers who watch their RU budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestCharge:
    """One request sent by a store operation, and the request units Cosmos DB charged for it."""

    operation: str
    request_units: float


ChargeHook = Callable[[RequestCharge], None]


def charge_reporter(
    hook: ChargeHook | None, operation: str
) -> Callable[[Mapping[str, str], Any], None]:
    """An SDK `response_hook` that passes each response's `x-ms-request-charge` to `hook`."""

    def report(headers: Mapping[str, str], _body: Any) -> None:
        if hook is not None:
            hook(RequestCharge(operation, float(headers.get("x-ms-request-charge") or 0.0)))

    return report
