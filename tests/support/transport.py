"""A real HTTP transport for the Cosmos SDK that records every request and can inject faults.

Faults are injected at our side of the wire, in front of the real local server: a synthetic
status (429 with `x-ms-retry-after-ms`, 503, 403), a refused connection, or a response lost
after the server applied the write (the "timeout after the write landed" case).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import requests
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import HttpRequest, RequestsTransport
from azure.core.pipeline.transport._requests_basic import RequestsTransportResponse

FaultKind = Literal["status", "refuse", "lose_response"]


@dataclass
class Fault:
    """Hit the next `times` requests whose method and URL match; with `rate` below 1, each
    matching request only with that probability (drawn from `seed`, so a run repeats)."""

    kind: FaultKind
    method: str | None = None
    url_contains: str | None = None
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    rate: float = 1.0
    seed: int = 0
    batches_only: bool = False  # only transactional batches (queries POST to the same URL)
    hits: int = 0
    _draws: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._draws = random.Random(self.seed)

    def matches(self, request: HttpRequest) -> bool:
        return (
            (self.method is None or request.method == self.method)
            and (self.url_contains is None or self.url_contains in request.url)
            and (not self.batches_only or _is_batch(request))
        )

    def strikes(self) -> bool:
        """Whether this matching request is hit (the caller holds the transport's lock)."""
        return self._draws.random() < self.rate


@dataclass(frozen=True)
class Recorded:
    method: str
    url: str
    request_bytes: int
    response_bytes: int
    status: int | None
    fault: FaultKind | None
    # A transactional batch (queries are POSTs to the same URL; the SDK marks batches).
    batch: bool = False


class RecordingTransport(RequestsTransport):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.records: list[Recorded] = []

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.records.clear()

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:  # type: ignore[override]
        fault = self._take_fault(request)
        size = _body_size(request)
        if fault is not None and fault.kind == "refuse":
            self._record(request, size, 0, None, fault.kind)
            raise ServiceRequestError("injected: connection refused")
        if fault is not None and fault.kind == "status":
            self._record(request, size, 0, fault.status, fault.kind)
            return _synthetic(request, fault)
        response = super().send(request, **kwargs)
        body = response.body() or b""
        if fault is not None:  # lose_response: the server applied it, the caller never hears
            self._record(request, size, len(body), response.status_code, fault.kind)
            raise ServiceResponseError("injected: response lost after the write landed")
        self._record(request, size, len(body), response.status_code, None)
        return response

    def _take_fault(self, request: HttpRequest) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.matches(request) and fault.strikes():
                    fault.times -= 1
                    fault.hits += 1
                    return fault
        return None

    def _record(
        self,
        request: HttpRequest,
        size: int,
        received: int,
        status: int | None,
        fault: FaultKind | None,
    ) -> None:
        with self._lock:
            self.records.append(
                Recorded(
                    request.method, request.url, size, received, status, fault, _is_batch(request)
                )
            )


def _is_batch(request: HttpRequest) -> bool:
    return request.headers.get("x-ms-cosmos-is-batch-request", "").lower() == "true"


def _body_size(request: HttpRequest) -> int:
    body = request.body if request.body is not None else request.data
    if body is None:
        return 0
    return len(body.encode() if isinstance(body, str) else body)


def _synthetic(request: HttpRequest, fault: Fault) -> RequestsTransportResponse:
    raw = requests.Response()
    raw.status_code = fault.status
    raw.headers.update({"Content-Type": "application/json", **fault.headers})
    raw._content = b'{"code":"Injected","message":"injected fault"}'
    raw.url = request.url
    return RequestsTransportResponse(request, raw)
