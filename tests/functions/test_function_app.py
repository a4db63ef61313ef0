"""The Azure Functions example, called as the host calls it, against the local Cosmos server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
from function_harness import FunctionClient, body_of, function_app

from conversation_store import RetryPolicy
from conversation_store.aio import ConversationManager, CosmosStore
from support.cosmos_fixtures import TEST_DATABASE, TEST_LIMITS, CosmosTarget

pytestmark = pytest.mark.cosmos

CUSTOMER = "customer_fn"
Install = Callable[[ConversationManager], None]


@pytest.fixture
def client() -> FunctionClient:
    return FunctionClient(function_app.app)


@pytest.fixture
def install() -> Iterator[Install]:
    """Serve the app's requests with a given manager for one test, then restore the previous."""
    previous: list[ConversationManager | None] = []

    def use(manager: ConversationManager) -> None:
        previous.append(function_app.set_manager(manager))

    yield use
    if previous:
        function_app.set_manager(previous[0])


@pytest_asyncio.fixture(loop_scope="function")
async def manager(
    cosmos_container: tuple[CosmosTarget, str], install: Install
) -> AsyncIterator[ConversationManager]:
    """An aio manager over a fresh container on the local Cosmos server, installed in the app."""
    target, name = cosmos_container
    store = CosmosStore.from_endpoint(
        target.endpoint,
        credential=target.key,
        database=TEST_DATABASE,
        container=name,
        connection_verify=target.verify_tls,
        limits=TEST_LIMITS,  # small items: long conversations seal segments
    )
    opened = ConversationManager(store, owns_store=True)
    install(opened)
    yield opened
    await opened.close()


async def create(client: FunctionClient, **body: Any) -> dict[str, Any]:
    response = await client.call(
        "create_conversation", "POST", "conversations", body={"customer_id": CUSTOMER, **body}
    )
    assert response.status_code == 201, response.get_body()
    created: dict[str, Any] = body_of(response)
    return created


async def append(
    client: FunctionClient, conversation_id: str, customer: str = CUSTOMER, **body: Any
) -> Any:
    return await client.call(
        "append_message",
        "POST",
        f"conversations/{conversation_id}/messages",
        route_params={"conversation_id": conversation_id},
        headers={"x-customer-id": customer},
        body=body,
    )


async def get(client: FunctionClient, conversation_id: str, **params: str) -> Any:
    return await client.call(
        "get_conversation",
        "GET",
        f"conversations/{conversation_id}",
        route_params={"conversation_id": conversation_id},
        params={"customer_id": CUSTOMER, **params},
    )


async def test_create_then_get_round_trips(
    client: FunctionClient, manager: ConversationManager
) -> None:
    created = await create(
        client,
        session_id="s1",
        title="Trip to Tokyo",
        metadata={"channel": "web"},
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    )
    assert created["customer_id"] == CUSTOMER and created["message_count"] == 2

    response = await get(client, created["id"])

    assert response.status_code == 200
    loaded = body_of(response)
    assert loaded["title"] == "Trip to Tokyo" and loaded["metadata"] == {"channel": "web"}
    assert [m["content"] for m in loaded["messages"]] == ["Be brief.", "Hi"]
    stored = await manager.load_conversation(created["id"], CUSTOMER)
    assert stored.session_id == "s1"


async def test_create_answers_location(
    client: FunctionClient, manager: ConversationManager
) -> None:
    response = await client.call(
        "create_conversation",
        "POST",
        "conversations",
        headers={"x-customer-id": CUSTOMER},
        body={},
    )
    assert response.status_code == 201
    created = body_of(response)
    assert response.headers["Location"] == (
        f"/api/conversations/{created['id']}?customer_id={CUSTOMER}"
    )


async def test_append_then_recent_window(
    client: FunctionClient, manager: ConversationManager
) -> None:
    conversation_id = (await create(client))["id"]
    for n in range(12):
        response = await append(client, conversation_id, role="user", content=f"message {n} " * 80)
        assert response.status_code == 201
        assert body_of(response)["pending"] is False

    window = body_of(await get(client, conversation_id, window="3"))
    whole = body_of(await get(client, conversation_id))

    assert [m["content"].split()[1] for m in window["messages"]] == ["9", "10", "11"]
    assert window["window"] == 3 and window["conversation_id"] == conversation_id
    assert whole["message_count"] == 12 and len(whole["messages"]) == 12


async def test_append_with_message_id_is_idempotent(
    client: FunctionClient, manager: ConversationManager
) -> None:
    conversation_id = (await create(client))["id"]
    for _ in range(2):
        response = await append(
            client,
            conversation_id,
            role="assistant",
            content="Hello!",
            message_id="m_retry1",
            tokens=3,
            metadata={"model": "gpt-4o"},
        )
        assert response.status_code == 201

    loaded = body_of(await get(client, conversation_id))
    assert [m["id"] for m in loaded["messages"]] == ["m_retry1"]
    assert loaded["total_tokens"] == 3


async def test_list_pages_with_continuation(
    client: FunctionClient, manager: ConversationManager
) -> None:
    ids = [(await create(client, title=f"t{n}"))["id"] for n in range(5)]
    seen: list[str] = []
    continuation: str | None = None
    for _ in range(5):
        params = {"limit": "2", **({"continuation": continuation} if continuation else {})}
        response = await client.call(
            "list_conversations",
            "GET",
            f"customers/{CUSTOMER}/conversations",
            route_params={"customer_id": CUSTOMER},
            params=params,
        )
        assert response.status_code == 200
        page = body_of(response)
        assert len(page["items"]) <= 2
        assert all("messages" not in item for item in page["items"])
        seen += [item["id"] for item in page["items"]]
        continuation = page["continuation"]
        if continuation is None:
            break
    assert seen == list(reversed(ids))  # most recently updated first


async def test_delete_then_get_is_404_and_delete_again_is_204(
    client: FunctionClient, manager: ConversationManager
) -> None:
    conversation_id = (await create(client, messages=[{"role": "user", "content": "bye"}]))["id"]

    async def delete() -> Any:
        return await client.call(
            "delete_conversation",
            "DELETE",
            f"conversations/{conversation_id}",
            route_params={"conversation_id": conversation_id},
            params={"customer_id": CUSTOMER},
        )

    assert (await delete()).status_code == 204
    missing = await get(client, conversation_id)
    assert missing.status_code == 404
    assert body_of(missing)["error"]["code"] == "not_found"
    assert (await delete()).status_code == 204


async def test_another_customers_conversation_is_not_found(
    client: FunctionClient, manager: ConversationManager
) -> None:
    conversation_id = (await create(client))["id"]

    response = await client.call(
        "get_conversation",
        "GET",
        f"conversations/{conversation_id}",
        route_params={"conversation_id": conversation_id},
        headers={"x-customer-id": "intruder"},
    )
    appended = await append(client, conversation_id, customer="intruder", role="user", content="x")

    assert response.status_code == 404 and appended.status_code == 404


async def test_append_to_missing_conversation_is_404(
    client: FunctionClient, manager: ConversationManager
) -> None:
    response = await append(client, "c_missing", role="user", content="hello?")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "method", "path", "kwargs"),
    [
        ("create_conversation", "POST", "conversations", {"body": b"{not json"}),
        ("create_conversation", "POST", "conversations", {"body": ["a", "list"]}),
        ("create_conversation", "POST", "conversations", {"body": {"title": "no customer"}}),
        (
            "create_conversation",
            "POST",
            "conversations",
            {"body": {"customer_id": "a"}, "headers": {"x-customer-id": "b"}},
        ),
        ("create_conversation", "POST", "conversations", {"body": {"customer_id": "bad/id"}}),
        (
            "create_conversation",
            "POST",
            "conversations",
            {"body": {"customer_id": "a", "colour": "blue"}},
        ),
        (
            "create_conversation",
            "POST",
            "conversations",
            {"body": {"customer_id": "a", "messages": [{"role": "wizard", "content": "x"}]}},
        ),
        (
            "create_conversation",
            "POST",
            "conversations",
            {
                "body": {
                    "customer_id": "a",
                    "messages": [{"role": "user", "content": "x", "message_id": "m_1"}],
                }
            },
        ),
        (
            "create_conversation",
            "POST",
            "conversations",
            {"body": {"customer_id": "a", "messages": "not a list"}},
        ),
        (
            "append_message",
            "POST",
            "conversations/c_1/messages",
            {
                "route_params": {"conversation_id": "c_1"},
                "headers": {"x-customer-id": CUSTOMER},
                "body": {"role": "user", "content": "   "},
            },
        ),
        (
            "append_message",
            "POST",
            "conversations/c_1/messages",
            {
                "route_params": {"conversation_id": "c_1"},
                "headers": {"x-customer-id": CUSTOMER},
                "body": {"content": "no role"},
            },
        ),
        (
            "get_conversation",
            "GET",
            "conversations/c_1",
            {
                "route_params": {"conversation_id": "c_1"},
                "params": {"customer_id": CUSTOMER, "window": "0"},
            },
        ),
        (
            "get_conversation",
            "GET",
            "conversations/c_1",
            {"route_params": {"conversation_id": "c_1"}},
        ),
        (
            "list_conversations",
            "GET",
            "customers/x/conversations",
            {"route_params": {"customer_id": CUSTOMER}, "params": {"limit": "lots"}},
        ),
        (
            "list_conversations",
            "GET",
            "customers/x/conversations",
            {"route_params": {"customer_id": CUSTOMER}, "params": {"continuation": "garbage!"}},
        ),
        (
            "delete_conversation",
            "DELETE",
            "conversations/c_1",
            {"route_params": {"conversation_id": "c_1"}},
        ),
    ],
)
async def test_bad_input_is_400(
    client: FunctionClient,
    manager: ConversationManager,
    name: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    response = await client.call(name, method, path, **kwargs)

    assert response.status_code == 400, response.get_body()
    assert body_of(response)["error"]["code"] == "invalid_input"


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_unreachable_store_is_503_with_retry_after(
    client: FunctionClient, install: Install
) -> None:
    store = CosmosStore.from_endpoint(
        f"https://127.0.0.1:{_unused_port()}/",
        credential="a2V5",
        connection_verify=False,
        retry=RetryPolicy(attempts=2, initial_backoff=0.01, max_backoff=0.02),
    )
    async with ConversationManager(store, owns_store=True) as unreachable:
        install(unreachable)
        response = await append(client, "c_1", role="user", content="hello")

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert body_of(response)["error"]["code"] == "store_unavailable"
