"""The local Cosmos DB-compatible server behaves like Cosmos DB for the azure-cosmos SDK.

These pin down what the rest of the suite relies on: each workaround in
tools/cosmos-server/launch.js has a test here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
from azure.core import MatchConditions
from azure.core.paging import PageIterator
from azure.cosmos import ContainerProxy, CosmosClient, PartitionKey
from azure.cosmos.exceptions import (
    CosmosAccessConditionFailedError,
    CosmosBatchOperationError,
    CosmosHttpResponseError,
    CosmosResourceNotFoundError,
)

import support.local_cosmos
from support.local_cosmos import LocalCosmosError, LocalCosmosServer

pytestmark = [
    pytest.mark.cosmos,
    # The server's certificate is self-signed (connection_verify=False): expected here.
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

DATABASE = "GenAI"
CONTAINER = "AI_Conversations"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalCosmosServer]:
    with LocalCosmosServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: LocalCosmosServer) -> CosmosClient:
    return CosmosClient(server.endpoint, credential=server.key, connection_verify=False)


@pytest.fixture(scope="module")
def container(client: CosmosClient) -> ContainerProxy:
    database = client.create_database_if_not_exists(DATABASE)
    return database.create_container_if_not_exists(
        CONTAINER, partition_key=PartitionKey(path="/customer_id")
    )


@pytest.fixture
def customer() -> str:
    """A fresh partition key per test, so tests don't see each other's items."""
    return f"cust-{uuid.uuid4().hex[:8]}"


def conversation(customer: str, conv_id: str = "conv-1", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": conv_id,
        "customer_id": customer,
        "title": "Hello World",
        "messages": [],
        "message_ids": [],
        "message_count": 0,
        "updated_at": "2024-01-01T00:00:00Z",
    }
    item.update(extra)
    return item


class HeaderRecorder:
    """A response_hook that keeps the last response's headers."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}

    def __call__(self, headers: Mapping[str, Any], body: object) -> None:
        self.headers = {str(k).lower(): str(v) for k, v in headers.items()}


# -- server process --------------------------------------------------------------------------


def test_server_reports_endpoint_and_pid(server: LocalCosmosServer) -> None:
    assert server.endpoint == f"https://127.0.0.1:{server.port}/"
    assert server.pid > 0
    assert server.running


def test_restart_keeps_port_and_drops_data() -> None:
    with LocalCosmosServer() as srv:
        port, pid = srv.port, srv.pid
        client = CosmosClient(srv.endpoint, credential=srv.key, connection_verify=False)
        client.create_database_if_not_exists("Ephemeral")
        srv.restart()
        assert srv.port == port
        assert srv.pid != pid
        client = CosmosClient(srv.endpoint, credential=srv.key, connection_verify=False)
        assert [db["id"] for db in client.list_databases()] == []
    assert not srv.running


def test_start_failure_reports_server_stderr(server: LocalCosmosServer) -> None:
    clash = LocalCosmosServer(port=server.port)
    with pytest.raises(LocalCosmosError, match="EADDRINUSE"):
        clash.start()
    assert not clash.running
    clash.close()


def test_missing_node_modules_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(support.local_cosmos, "NODE_MODULES", tmp_path / "node_modules")
    with pytest.raises(LocalCosmosError, match="npm ci --prefix tools/cosmos-server"):
        support.local_cosmos.ensure_node_modules()


# -- items -----------------------------------------------------------------------------------


def test_create_read_upsert(container: ContainerProxy, customer: str) -> None:
    created = container.create_item(conversation(customer))
    assert created["_etag"]
    read = container.read_item("conv-1", partition_key=customer)
    assert read["title"] == "Hello World"
    assert read["_etag"] == created["_etag"]

    upserted = container.upsert_item(conversation(customer, title="Renamed"))
    assert upserted["_etag"] != created["_etag"]
    assert container.read_item("conv-1", partition_key=customer)["title"] == "Renamed"


def test_read_missing_item_is_404(container: ContainerProxy, customer: str) -> None:
    # The library alone answers 500 here (and the SDK retries it); the launcher answers 404.
    with pytest.raises(CosmosResourceNotFoundError) as caught:
        container.read_item("no-such-item", partition_key=customer)
    assert caught.value.status_code == 404


def test_read_with_wrong_partition_key_is_404(container: ContainerProxy, customer: str) -> None:
    container.create_item(conversation(customer))
    with pytest.raises(CosmosResourceNotFoundError) as caught:
        container.read_item("conv-1", partition_key=f"{customer}-other")
    assert caught.value.status_code == 404


def test_delete_replace_patch_of_missing_item_are_404(
    container: ContainerProxy, customer: str
) -> None:
    with pytest.raises(CosmosResourceNotFoundError) as caught:
        container.delete_item("missing", partition_key=customer)
    assert caught.value.status_code == 404
    with pytest.raises(CosmosResourceNotFoundError) as caught:
        container.replace_item("missing", conversation(customer, "missing"))
    assert caught.value.status_code == 404
    with pytest.raises(CosmosResourceNotFoundError) as caught:
        container.patch_item("missing", customer, [{"op": "set", "path": "/title", "value": "x"}])
    assert caught.value.status_code == 404
    # Real Cosmos sends a code in the error body; so does the launcher.
    assert "NotFound" in str(caught.value)


def test_delete_item(container: ContainerProxy, customer: str) -> None:
    container.create_item(conversation(customer))
    container.delete_item("conv-1", partition_key=customer)
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("conv-1", partition_key=customer)


def test_no_response_write_returns_no_body(container: ContainerProxy, customer: str) -> None:
    hook = HeaderRecorder()
    result = container.upsert_item(conversation(customer), no_response=True, response_hook=hook)
    assert not result
    assert hook.headers["etag"]
    assert container.read_item("conv-1", partition_key=customer)["_etag"] == hook.headers["etag"]


def test_item_over_2mb_is_rejected(container: ContainerProxy, customer: str) -> None:
    with pytest.raises(CosmosHttpResponseError) as caught:
        container.upsert_item(conversation(customer, blob="x" * (2 * 1024 * 1024 + 1)))
    assert caught.value.status_code == 413


# -- patch -----------------------------------------------------------------------------------


def test_patch_add_incr_set(container: ContainerProxy, customer: str) -> None:
    container.create_item(conversation(customer))
    patched = container.patch_item(
        "conv-1",
        customer,
        [
            {"op": "add", "path": "/messages/-", "value": {"id": "m_1", "text": "hi"}},
            {"op": "add", "path": "/message_ids/-", "value": "m_1"},
            {"op": "incr", "path": "/message_count", "value": 1},
            {"op": "set", "path": "/updated_at", "value": "2024-02-01T00:00:00Z"},
        ],
    )
    assert patched["messages"] == [{"id": "m_1", "text": "hi"}]
    assert patched["message_ids"] == ["m_1"]
    assert patched["message_count"] == 1
    assert patched["updated_at"] == "2024-02-01T00:00:00Z"


def test_conditional_patch(container: ContainerProxy, customer: str) -> None:
    container.create_item(conversation(customer, message_ids=["m_1"]))
    operations = [{"op": "add", "path": "/message_ids/-", "value": "m_1"}]
    predicate = "FROM c WHERE NOT ARRAY_CONTAINS(c.message_ids, 'm_1')"
    with pytest.raises(CosmosAccessConditionFailedError) as caught:
        container.patch_item("conv-1", customer, operations, filter_predicate=predicate)
    assert caught.value.status_code == 412
    assert container.read_item("conv-1", customer)["message_ids"] == ["m_1"]

    ok = container.patch_item(
        "conv-1",
        customer,
        [{"op": "add", "path": "/message_ids/-", "value": "m_2"}],
        filter_predicate="FROM c WHERE NOT ARRAY_CONTAINS(c.message_ids, 'm_2')",
    )
    assert ok["message_ids"] == ["m_1", "m_2"]


def test_conditional_patch_predicate_is_case_sensitive(
    container: ContainerProxy, customer: str
) -> None:
    # The library lower-cases predicates; the launcher evaluates them as written.
    container.create_item(conversation(customer, lastMessageId="M_1"))
    with pytest.raises(CosmosAccessConditionFailedError):
        container.patch_item(
            "conv-1",
            customer,
            [{"op": "incr", "path": "/message_count", "value": 1}],
            filter_predicate="FROM c WHERE c.lastMessageId = 'm_1'",
        )
    patched = container.patch_item(
        "conv-1",
        customer,
        [{"op": "incr", "path": "/message_count", "value": 1}],
        filter_predicate="FROM c WHERE c.lastMessageId = 'M_1'",
    )
    assert patched["message_count"] == 1


def test_patch_with_stale_etag_is_412(container: ContainerProxy, customer: str) -> None:
    first = container.create_item(conversation(customer))
    container.patch_item("conv-1", customer, [{"op": "set", "path": "/title", "value": "B"}])
    with pytest.raises(CosmosAccessConditionFailedError) as caught:
        container.patch_item(
            "conv-1",
            customer,
            [{"op": "set", "path": "/title", "value": "C"}],
            etag=first["_etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    assert caught.value.status_code == 412


def test_replace_with_stale_etag_is_412(container: ContainerProxy, customer: str) -> None:
    first = container.create_item(conversation(customer))
    second = container.replace_item(
        "conv-1",
        conversation(customer, title="Second"),
        etag=first["_etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    assert second["title"] == "Second"
    with pytest.raises(CosmosAccessConditionFailedError) as caught:
        container.replace_item(
            "conv-1",
            conversation(customer, title="Third"),
            etag=first["_etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    assert caught.value.status_code == 412
    assert container.read_item("conv-1", customer)["title"] == "Second"


# -- transactional batch ---------------------------------------------------------------------


def test_batch_upsert_and_create(container: ContainerProxy, customer: str) -> None:
    container.create_item(conversation(customer))
    results = container.execute_item_batch(
        [
            ("upsert", (conversation(customer, message_count=1),)),
            ("create", ({"id": "msg-1", "customer_id": customer, "text": "hi"},)),
        ],
        partition_key=customer,
    )
    assert [r["statusCode"] for r in results] == [200, 201]
    assert container.read_item("msg-1", customer)["text"] == "hi"
    assert container.read_item("conv-1", customer)["message_count"] == 1


def test_batch_is_atomic(container: ContainerProxy, customer: str) -> None:
    container.create_item(conversation(customer))
    container.create_item({"id": "msg-1", "customer_id": customer})
    with pytest.raises(CosmosBatchOperationError) as caught:
        container.execute_item_batch(
            [
                ("upsert", (conversation(customer, message_count=99),)),
                ("create", ({"id": "msg-2", "customer_id": customer},)),
                ("create", ({"id": "msg-1", "customer_id": customer},)),  # conflict
            ],
            partition_key=customer,
        )
    assert caught.value.error_index == 2
    assert caught.value.status_code == 409
    statuses = [r["statusCode"] for r in caught.value.operation_responses]
    assert statuses == [424, 424, 409]
    # Nothing before the failing operation stayed applied.
    assert container.read_item("conv-1", customer)["message_count"] == 0
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("msg-2", customer)


def test_batch_over_2mb_is_rejected_whole(container: ContainerProxy, customer: str) -> None:
    # Each item is within the item limit; together they exceed the batch request limit.
    items = [{"id": f"big-{n}", "customer_id": customer, "blob": "x" * 800_000} for n in range(3)]
    with pytest.raises(CosmosHttpResponseError) as caught:
        container.execute_item_batch(
            [("upsert", (item,)) for item in items], partition_key=customer
        )
    assert caught.value.status_code == 413
    with pytest.raises(CosmosResourceNotFoundError):
        container.read_item("big-0", customer)


def test_batch_patch_with_predicate(container: ContainerProxy, customer: str) -> None:
    container.create_item(conversation(customer))
    results = container.execute_item_batch(
        [
            (
                "patch",
                ("conv-1", [{"op": "add", "path": "/message_ids/-", "value": "m_1"}]),
                {"filter_predicate": "FROM c WHERE NOT ARRAY_CONTAINS(c.message_ids, 'm_1')"},
            ),
            ("create", ({"id": "m_1", "customer_id": customer},)),
        ],
        partition_key=customer,
    )
    assert [r["statusCode"] for r in results] == [200, 201]
    with pytest.raises(CosmosBatchOperationError) as caught:
        container.execute_item_batch(
            [
                (
                    "patch",
                    ("conv-1", [{"op": "add", "path": "/message_ids/-", "value": "m_1"}]),
                    {"filter_predicate": "FROM c WHERE NOT ARRAY_CONTAINS(c.message_ids, 'm_1')"},
                ),
            ],
            partition_key=customer,
        )
    assert caught.value.status_code == 412


# -- queries ---------------------------------------------------------------------------------


@pytest.fixture
def seven_conversations(container: ContainerProxy, customer: str) -> str:
    for i in range(7):
        container.create_item(
            conversation(
                customer,
                f"conv-{i}",
                title=f"Chat {i} about PYTHON" if i % 2 else f"Chat {i}",
                messages=[{"id": f"m_{j}"} for j in range(i)],
                updated_at=f"2024-01-0{i + 1}T00:00:00Z",
            )
        )
    # Another customer's item must never show up in partition-scoped queries.
    container.create_item(conversation(f"{customer}-other", "conv-x", title="python too"))
    return customer


def test_query_top_order_by_with_parameters(
    container: ContainerProxy, seven_conversations: str
) -> None:
    rows = list(
        container.query_items(
            "SELECT TOP 3 c.id, c.updated_at FROM c "
            "WHERE c.customer_id = @customer ORDER BY c.updated_at DESC",
            parameters=[{"name": "@customer", "value": seven_conversations}],
            partition_key=seven_conversations,
        )
    )
    assert [r["id"] for r in rows] == ["conv-6", "conv-5", "conv-4"]


def test_query_functions_and_partition_scope(
    container: ContainerProxy, seven_conversations: str
) -> None:
    rows = list(
        container.query_items(
            "SELECT c.id, ARRAY_LENGTH(c.messages) AS n FROM c "
            "WHERE CONTAINS(LOWER(c.title), @needle) ORDER BY c.id",
            parameters=[{"name": "@needle", "value": "python"}],
            partition_key=seven_conversations,
        )
    )
    assert rows == [{"id": f"conv-{i}", "n": i} for i in (1, 3, 5)]


def test_query_paging_with_continuation_token(
    container: ContainerProxy, seven_conversations: str
) -> None:
    query = "SELECT * FROM c ORDER BY c.updated_at DESC"
    pages = cast(
        "PageIterator[dict[str, Any]]",
        container.query_items(query, partition_key=seven_conversations, max_item_count=3).by_page(),
    )
    first = [item["id"] for item in next(pages)]
    token = pages.continuation_token
    assert first == ["conv-6", "conv-5", "conv-4"]
    assert token

    # Resume from the token with a fresh iterator, as a stateless "next page" request would.
    resumed = container.query_items(
        query, partition_key=seven_conversations, max_item_count=3
    ).by_page(token)
    pages_after = [[item["id"] for item in page] for page in resumed]
    assert pages_after == [["conv-3", "conv-2", "conv-1"], ["conv-0"]]


def test_offset_limit_is_not_supported(container: ContainerProxy, customer: str) -> None:
    # Known gap of the library: use TOP or continuation tokens instead.
    with pytest.raises(CosmosHttpResponseError) as caught:
        list(container.query_items("SELECT * FROM c OFFSET 0 LIMIT 2", partition_key=customer))
    assert caught.value.status_code == 400


# -- headers and connections -----------------------------------------------------------------


def test_response_hook_sees_request_charge_and_etag(
    container: ContainerProxy, customer: str
) -> None:
    hook = HeaderRecorder()
    created = container.create_item(conversation(customer), response_hook=hook)
    assert float(hook.headers["x-ms-request-charge"]) > 0
    assert hook.headers["etag"] == created["_etag"]

    query_hook = HeaderRecorder()
    list(container.query_items("SELECT * FROM c", partition_key=customer, response_hook=query_hook))
    assert float(query_hook.headers["x-ms-request-charge"]) > 0


def test_requests_reuse_one_connection(container: ContainerProxy, customer: str) -> None:
    # launch.js tags each response with the id of the TLS connection that served it.
    container.create_item(conversation(customer))
    seen = []
    for _ in range(3):
        hook = HeaderRecorder()
        container.read_item("conv-1", customer, response_hook=hook)
        seen.append(hook.headers["x-local-cosmos-connection"])
    assert len(set(seen)) == 1
