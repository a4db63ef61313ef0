"""Sidebar actions under AppTest: rename, delete with confirmation, load more, search, export."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from streamlit.testing.v1 import AppTest
from streamlit_app.services import MANAGER_KEY

from conversation_store import (
    AppendResult,
    ConversationManager,
    MemoryStore,
    Message,
)
from conversation_store.models import SearchHit
from conversation_store.stores.protocol import SearchableStore

AppFactory = Callable[..., AppTest]
CID = "anon_0123456789abcdef0123456789abcdef"


def send(at: AppTest, text: str) -> AppTest:
    return at.chat_input(key="chat_input").set_value(text).run()


def open_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.sidebar.button if b.key and b.key.startswith("open_")]


def memory_app(store: MemoryStore) -> AppTest:
    at = AppTest.from_file("../../streamlit_app/app.py", default_timeout=20)
    at.session_state[MANAGER_KEY] = ConversationManager(store)
    at.query_params["cid"] = CID
    return at.run()


def test_rename(open_app: AppFactory) -> None:
    at = send(open_app(cid=CID), "old title")
    [button] = [b for b in at.sidebar.button if b.key and b.key.startswith("open_")]
    conversation_id = button.key.removeprefix("open_")
    at.sidebar.text_input(key=f"title_{conversation_id}").set_value("New title")
    at = at.sidebar.button(key=f"rename_{conversation_id}").click().run()
    assert open_buttons(at) == ["New title"]
    assert at.title[0].value == "New title"


def test_delete_asks_for_confirmation(open_app: AppFactory) -> None:
    at = send(open_app(cid=CID), "doomed")
    conversation_id = next(b.key for b in at.sidebar.button
                           if b.key and b.key.startswith("open_")).removeprefix("open_")
    at = at.sidebar.button(key=f"delete_{conversation_id}").click().run()
    assert any("cannot be undone" in w.value for w in at.sidebar.warning)
    at = at.sidebar.button(key=f"cancel_delete_{conversation_id}").click().run()
    assert open_buttons(at) == ["doomed"]
    at = at.sidebar.button(key=f"delete_{conversation_id}").click().run()
    at = at.sidebar.button(key=f"confirm_delete_{conversation_id}").click().run()
    assert open_buttons(at) == []
    assert at.title[0].value == "New conversation"  # the open conversation was deleted
    assert not at.main.chat_message


def test_groups_and_load_more() -> None:
    store = MemoryStore()
    manager = ConversationManager(store)
    for number in range(23):
        conversation = manager.create_conversation_document(CID, "s", title=f"chat {number}")
        manager.add_message_to_conversation(conversation, "user", "hi")
        manager.save_conversation(conversation)
    at = memory_app(store)
    assert [h.value for h in at.sidebar.subheader] == ["Today"]
    assert len(open_buttons(at)) == 20
    at = at.sidebar.button(key="load_more").click().run()
    assert len(open_buttons(at)) == 23
    assert open_buttons(at)[0] == "chat 22"
    assert not [b for b in at.sidebar.button if b.key == "load_more"]


class SearchableMemoryStore(MemoryStore):
    """A fake at our SearchableStore protocol: substring search over stored messages."""

    def search_messages(self, *, customer_id: str, query: str, limit: int) -> list[SearchHit]:
        hits: list[SearchHit] = []
        for summary in self.list_conversations(customer_id=customer_id, limit=100).items:
            conversation = self.get_conversation(customer_id=customer_id,
                                                 conversation_id=summary.id)
            for message in conversation.messages:
                if message.content and query.lower() in message.content.lower():
                    hits.append(SearchHit(conversation_id=conversation.id,
                                          conversation_title=conversation.title,
                                          message_id=message.id, role=message.role,
                                          snippet=message.content[:40],
                                          timestamp=message.timestamp))
        return hits[:limit]


def test_search_box_only_for_searchable_stores() -> None:
    assert not isinstance(MemoryStore(), SearchableStore)
    plain = memory_app(MemoryStore())
    assert not [t for t in plain.sidebar.text_input if t.key == "search_query"]

    store = SearchableMemoryStore()
    assert isinstance(store, SearchableStore)
    at = memory_app(store)
    at = send(at, "pandas are bears")
    at = at.sidebar.button(key="new_conversation").click().run()
    at = send(at, "koalas are not")
    at = at.sidebar.text_input(key="search_query").set_value("PANDAS").run()
    hits = [b for b in at.sidebar.button if b.key and b.key.startswith("search_hit_")]
    # The user's message and the offline echo of it; nothing from the koala conversation.
    assert len(hits) == 2
    assert all(b.label.startswith("pandas are bears — ") for b in hits)
    at = hits[0].click().run()
    assert at.main.chat_message[0].markdown[0].value == "pandas are bears"


def test_export_downloads_only_for_a_stored_conversation(open_app: AppFactory) -> None:
    at = open_app(cid=CID)
    assert not at.get("download_button")
    at = send(at, "export me")
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(buttons) == {"JSON", "Markdown"}
    # The export functions are unit-tested; here the files are served with the right names.
    assert all(b.proto.url for b in buttons.values())


class OutboxStore(MemoryStore):
    """A store in degraded mode: every append is only queued locally."""

    def append_messages(self, *, customer_id: str, conversation_id: str,
                        messages: Sequence[Message]) -> AppendResult:
        result = super().append_messages(customer_id=customer_id,
                                         conversation_id=conversation_id, messages=messages)
        return result.model_copy(update={"pending": True})

    def pending_count(self) -> int:
        return 2


def test_status_line_shows_pending_writes() -> None:
    at = send(memory_app(OutboxStore()), "first")  # created: pending count from the store
    at = send(at, "second")
    assert [c.value for c in at.main.caption if "pending" in c.value] == [
        "Saving locally — 2 pending"]
