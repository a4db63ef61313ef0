"""The Function app's HTTP edge without a store server: error mapping, degraded answers, wiring."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from function_harness import (
    APP_DIR,
    FunctionClient,
    body_of,
    function_app,
    indexed_functions,
    request,
)
from function_harness import http_mapping as http

from conversation_store import (
    AccessDeniedError,
    AppendResult,
    ConflictError,
    ConversationKey,
    ConversationNotFoundError,
    ConversationStoreError,
    InvalidInputError,
    Message,
    Settings,
    StoreClosedError,
    StoreUnavailableError,
)
from conversation_store.aio import ConversationManager, MemoryStore


class ScriptedStore(MemoryStore):
    """An in-memory store whose appends answer what a test scripts (an outcome or an error)."""

    def __init__(self, outcome: AppendResult | ConversationStoreError) -> None:
        super().__init__()
        self.outcome = outcome

    async def append_messages(
        self, key: ConversationKey, messages: Sequence[Message]
    ) -> AppendResult:
        if isinstance(self.outcome, ConversationStoreError):
            raise self.outcome
        return self.outcome


@pytest.fixture
def scripted() -> Iterator[Any]:
    previous: list[ConversationManager | None] = []

    def use(outcome: AppendResult | ConversationStoreError) -> None:
        previous.append(function_app.set_manager(ConversationManager(ScriptedStore(outcome))))

    yield use
    if previous:
        function_app.set_manager(previous[0])


async def append(client: FunctionClient) -> Any:
    return await client.call(
        "append_message",
        "POST",
        "conversations/c_1/messages",
        route_params={"conversation_id": "c_1"},
        headers={"x-customer-id": "u1"},
        body={"role": "user", "content": "hello"},
    )


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidInputError("bad"), 400, "invalid_input"),
        (ConversationNotFoundError("c_1", "u1"), 404, "not_found"),
        (ConflictError("raced"), 409, "conflict"),
        (StoreUnavailableError("down"), 503, "store_unavailable"),
        (StoreClosedError("closed"), 503, "store_closed"),
        (AccessDeniedError("no role on https://secret.example"), 500, "store_access_denied"),
        (ConversationStoreError("odd"), 500, "store_error"),
    ],
)
async def test_library_errors_map_to_http(
    scripted: Any, error: ConversationStoreError, status: int, code: str
) -> None:
    scripted(error)

    response = await append(FunctionClient(function_app.app))

    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert body_of(response)["error"]["code"] == code
    assert ("Retry-After" in response.headers) == (status == 503)


async def test_server_errors_do_not_leak_details(
    scripted: Any, caplog: pytest.LogCaptureFixture
) -> None:
    scripted(AccessDeniedError("no role on https://secret.example"))

    with caplog.at_level(logging.ERROR):
        response = await append(FunctionClient(function_app.app))

    assert "secret.example" not in response.get_body().decode()
    assert "secret.example" in caplog.text  # the operator still sees it in the logs


async def test_pending_append_is_202(scripted: Any) -> None:
    scripted(AppendResult(conversation_id="c_1", message_ids=["m_1"], pending=True))

    response = await append(FunctionClient(function_app.app))

    assert response.status_code == 202
    assert body_of(response) == {"conversation_id": "c_1", "message_ids": ["m_1"], "pending": True}


async def test_manager_is_created_once_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVERSATION_STORE_URL", "memory://")
    monkeypatch.delenv("COSMOSDB_ENDPOINT", raising=False)
    previous = function_app.set_manager(None)
    try:
        first = function_app.get_manager()
        assert function_app.get_manager() is first
        assert type(first.store).__name__ == "MemoryStore"
        await first.close()
    finally:
        function_app.set_manager(previous)


def test_routes_methods_and_auth_level_are_as_documented() -> None:
    routes = {
        name: (binding["route"], [str(m.value) for m in binding["methods"]], binding["authLevel"])
        for name, fn in indexed_functions(function_app.app).items()
        for binding in fn.get_bindings_dict()["bindings"]
        if binding["type"] == "httpTrigger"
    }
    assert {name: (route, methods) for name, (route, methods, _) in routes.items()} == {
        "create_conversation": ("conversations", ["POST"]),
        "append_message": ("conversations/{conversation_id}/messages", ["POST"]),
        "get_conversation": ("conversations/{conversation_id}", ["GET"]),
        "list_conversations": ("customers/{customer_id}/conversations", ["GET"]),
        "delete_conversation": ("conversations/{conversation_id}", ["DELETE"]),
        "health": ("health", ["GET"]),
    }
    levels = {name: str(level.value) for name, (*_, level) in routes.items()}
    assert levels.pop("health") == "anonymous"
    assert set(levels.values()) == {"function"}


async def test_health_answers_without_a_store() -> None:
    previous = function_app.set_manager(None)
    try:
        response = await FunctionClient(function_app.app).call("health", "GET", "health")
    finally:
        function_app.set_manager(previous)
    assert response.status_code == 200 and body_of(response) == {"status": "ok"}


def test_customer_id_sources_must_agree() -> None:
    routed = request(
        "GET", "x", route_params={"customer_id": "u1"}, headers={"x-customer-id": "u1"}
    )
    assert http.customer_id_of(routed) == "u1"
    assert http.customer_id_of(request("GET", "x", params={"customer_id": "u2"})) == "u2"
    assert http.customer_id_of(request("POST", "x"), {"customer_id": "u3"}) == "u3"
    with pytest.raises(InvalidInputError, match="more than one"):
        http.customer_id_of(request("GET", "x", params={"customer_id": "a"}), {"customer_id": "b"})
    with pytest.raises(InvalidInputError, match="must be a string"):
        http.customer_id_of(request("POST", "x"), {"customer_id": 7})


def test_app_files_name_what_the_host_needs() -> None:
    host = json.loads((APP_DIR / "host.json").read_text())
    assert host["version"] == "2.0"
    requirements = (APP_DIR / "requirements.txt").read_text().split()
    assert {"azure-functions>=1.20", "conversation-store"} <= set(requirements)
    local = json.loads((APP_DIR / "local.settings.json.example").read_text())["Values"]
    assert local["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert "COSMOSDB_KEY" not in local
    settings = Settings.from_env(local)
    assert (settings.cosmos_database, settings.cosmos_container) == ("GenAI", "AI_Conversations")
