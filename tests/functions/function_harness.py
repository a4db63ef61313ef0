"""Helpers for the Azure Functions example's tests (imported by the test modules here).

`examples/azure_functions` is the app root the Functions host deploys, so its modules import
as top-level `function_app` and `http_mapping`, as they do in Azure. A plain module, not a
conftest, so it never shadows the root `conftest` module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import azure.functions as func

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "examples" / "azure_functions"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

import function_app  # noqa: E402  (re-exported for the tests: it needs APP_DIR on sys.path)
import http_mapping  # noqa: E402

__all__ = [
    "APP_DIR",
    "FunctionClient",
    "body_of",
    "function_app",
    "http_mapping",
    "indexed_functions",
    "request",
]


def request(
    method: str,
    path: str,
    *,
    route_params: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
) -> func.HttpRequest:
    """The `func.HttpRequest` the host would pass for `method /api/<path>`."""
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return func.HttpRequest(
        method=method,
        url=f"http://localhost:7071/api/{path}",
        route_params=dict(route_params or {}),
        params=dict(params or {}),
        headers=dict(headers or {}),
        body=raw,
    )


_INDEXED: dict[int, dict[str, Any]] = {}


def indexed_functions(app: func.FunctionApp) -> dict[str, Any]:
    """The app's functions by name, indexed once (a second `get_functions()` call raises)."""
    if id(app) not in _INDEXED:
        _INDEXED[id(app)] = {f.get_function_name(): f for f in app.get_functions()}
    return _INDEXED[id(app)]


class FunctionClient:
    """Calls the app's functions as the host would: by function name, one request each."""

    def __init__(self, app: func.FunctionApp) -> None:
        self.functions = indexed_functions(app)

    async def call(self, name: str, method: str, path: str, **kwargs: Any) -> func.HttpResponse:
        handler = self.functions[name].get_user_function()
        response: func.HttpResponse = await handler(request(method, path, **kwargs))
        return response


def body_of(response: func.HttpResponse) -> Any:
    return json.loads(response.get_body())
