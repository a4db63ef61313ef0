"""Cosmos: the sweep of a cleared or deleted conversation's old segments, with a seal of the
next generation committed between the sweep's listing and its delete, on the local server.

The old segments are listed by id; a clear (or a create again under a deleted id) starts
numbering at 0, so a seal right after it takes an id the sweep is about to delete. The delete
is conditioned on the ETag it listed, so it can remove only what it listed as dead: these
tests make that interleaving happen every time, instead of in some rounds of the race tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.core.pipeline.transport import HttpRequest, RequestsTransport
from azure.cosmos import ContainerProxy, CosmosClient
from faults_support import is_batch, items_of, orphan_segments, segments_of, unique

from conversation_store import ConversationManager
from support.cosmos_fixtures import TEST_DATABASE, CosmosTarget, open_cosmos_store

BODY = " words to fill the item" * 40  # ~1 KB: with the tests' 8 KiB bound, a seal every few
SEEDED = 20


class BeforeFirstBatch(RequestsTransport):
    """Runs `hook` (once) just before it sends the first transactional batch."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hook: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:  # type: ignore[override]
        with self._lock:
            hook, self.hook = (self.hook, None) if is_batch(request) else (None, self.hook)
        if hook is not None:
            hook()
        return super().send(request, **kwargs)


@pytest.fixture
def cosmos(
    cosmos_container: tuple[CosmosTarget, str],
) -> Iterator[tuple[ConversationManager, ConversationManager, BeforeFirstBatch, ContainerProxy]]:
    """A writer, a sweeper whose next batch runs a hook first, the hook's transport, and the
    raw container."""
    target, name = cosmos_container
    transport = BeforeFirstBatch(connection_verify=target.verify_tls)
    writer = ConversationManager(open_cosmos_store(target, name))
    sweeper = ConversationManager(open_cosmos_store(target, name, transport=transport))
    client = CosmosClient(
        target.endpoint, credential=target.key, connection_verify=target.verify_tls
    )
    raw = client.get_database_client(TEST_DATABASE).get_container_client(name)
    yield writer, sweeper, transport, raw
    writer.close()
    sweeper.close()
    client.close()


def sealed_conversation(manager: ConversationManager, customer: str) -> str:
    doc = manager.create_conversation_document(customer, "s1")
    for n in range(SEEDED):
        manager.add_message_to_conversation(doc, "user", f"old {n}" + BODY)
    return manager.save_conversation(doc).id


def append_until_sealed(
    manager: ConversationManager, raw: ContainerProxy, key: tuple[str, str], sent: list[str]
) -> None:
    """Append to the conversation's new generation until it has a segment numbered 0."""
    conversation_id, customer = key
    for n in range(30):
        text = f"new {n}" + BODY
        manager.append_message(conversation_id, customer, "user", text)
        sent.append(text)
        head = next(i for i in items_of(raw, customer) if i["id"] == conversation_id)
        if int(head.get("segment_count", 0)):
            return
    raise AssertionError("the new generation never sealed")


def assert_holds_exactly(
    manager: ConversationManager, raw: ContainerProxy, key: tuple[str, str], sent: list[str]
) -> None:
    """The conversation holds what was sent since the sweep began, counted right, and the
    partition no segment without its head or of another generation."""
    stored = manager.load_conversation(*key)
    assert [m.content for m in stored.messages] == sent
    assert stored.message_count == len(sent)
    assert orphan_segments(items_of(raw, key[1])) == []


def seal_next_generation(
    writer: ConversationManager, raw: ContainerProxy, key: tuple[str, str], sent: list[str]
) -> None:
    """After a clear: append to the emptied conversation until it seals its segment 0."""
    append_until_sealed(writer, raw, key, sent)


def create_again_and_seal(
    writer: ConversationManager, raw: ContainerProxy, key: tuple[str, str], sent: list[str]
) -> None:
    """After a delete: create the conversation again under its id, then seal its segment 0."""
    conversation_id, customer = key
    again = writer.create_conversation_document(customer, "s1", conversation_id=conversation_id)
    writer.add_message_to_conversation(again, "user", "born again")
    writer.save_conversation(again)
    sent.append("born again")
    append_until_sealed(writer, raw, key, sent)


SWEEPS: dict[str, tuple[str, Callable[..., None]]] = {
    "clear": ("clear_conversation", seal_next_generation),
    "delete": ("delete_conversation", create_again_and_seal),
}


@pytest.mark.parametrize("sweep", list(SWEEPS))
def test_a_seal_between_the_sweeps_listing_and_its_delete_keeps_its_segment(
    cosmos: tuple[ConversationManager, ConversationManager, BeforeFirstBatch, ContainerProxy],
    sweep: str,
) -> None:
    writer, sweeper, transport, raw = cosmos
    customer = unique("cust")
    key = (sealed_conversation(writer, customer), customer)
    call, meanwhile = SWEEPS[sweep]
    sent: list[str] = []
    transport.hook = lambda: meanwhile(writer, raw, key, sent)

    getattr(sweeper, call)(*key)

    assert transport.hook is None  # the hook ran: the seal came between listing and delete
    assert_holds_exactly(writer, raw, key, sent)
    assert segments_of(items_of(raw, customer), key[0])
