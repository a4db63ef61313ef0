"""Count what the Cosmos SDK sends and receives, at the azure-core HTTP transport.

Every request that leaves the pipeline (retries included) goes through `send`, so the counts
are what the wire sees, not what the store thinks it sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from azure.core.pipeline.transport import RequestsTransport


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response."""

    label: str
    method: str
    url: str
    status: int
    request_body_bytes: int
    request_header_bytes: int
    response_body_bytes: int
    response_body: bytes


@dataclass
class Tally:
    """What the requests made inside one `CountingTransport.measure` block added up to."""

    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.exchanges)

    @property
    def request_body_bytes(self) -> int:
        return sum(e.request_body_bytes for e in self.exchanges)

    @property
    def request_header_bytes(self) -> int:
        return sum(e.request_header_bytes for e in self.exchanges)

    @property
    def response_body_bytes(self) -> int:
        return sum(e.response_body_bytes for e in self.exchanges)

    @property
    def statuses(self) -> list[int]:
        return [e.status for e in self.exchanges]


def _body_size(body: Any) -> int:
    if body is None:
        return 0
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    if isinstance(body, bytes | bytearray):
        return len(body)
    return len(str(body).encode("utf-8"))


class CountingTransport(RequestsTransport):  # type: ignore[misc]  # Any without requests stubs
    """A `RequestsTransport` that records every exchange under the label of the block under way.

    Labels are per thread, so concurrent writers may each measure their own calls.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.keep_bodies = False

    @contextmanager
    def measure(self, label: str) -> Iterator[Tally]:
        """Record the requests this thread sends inside the block into the yielded `Tally`."""
        tally = Tally()
        previous = getattr(self._local, "current", None)
        self._local.current = (label, tally)
        try:
            yield tally
        finally:
            self._local.current = previous

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = super().send(request, **kwargs)
        current: tuple[str, Tally] | None = getattr(self._local, "current", None)
        if current is None:
            return response
        label, tally = current
        body = response.body() or b""
        line = f"{request.method} {request.url} HTTP/1.1\r\n"
        headers = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
        exchange = Exchange(
            label=label,
            method=request.method,
            url=request.url,
            status=response.status_code,
            request_body_bytes=_body_size(request.data if request.data is not None else None),
            request_header_bytes=len((line + headers + "\r\n").encode("utf-8")),
            response_body_bytes=len(body),
            response_body=body if self.keep_bodies else b"",
        )
        with self._lock:
            tally.exchanges.append(exchange)
        return response
