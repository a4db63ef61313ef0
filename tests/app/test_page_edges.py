"""Identity, responders, configuration errors and the insights page under AppTest."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from app_helpers import CID, SECRET, cookie_written, in_browser
from streamlit.testing.v1 import AppTest
from streamlit_app import services, state_keys

from conversation_store import ConversationKey, ConversationManager, MemoryStore, Message

AppFactory = Callable[..., AppTest]
APP = str(Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py")


def send(at: AppTest, text: str) -> AppTest:
    return at.chat_input(key="chat_input").set_value(text).run()


class ScriptedResponder:
    model = "fake-model"

    def __init__(self) -> None:
        self.histories: list[list[str | None]] = []

    def stream_reply(self, history: Sequence[Message]) -> Iterator[str]:
        self.histories.append([m.content for m in history])
        yield "Hello"
        yield ", world"


class BrokenResponder:
    model = "broken"

    def stream_reply(self, history: Sequence[Message]) -> Iterator[str]:
        raise ConnectionError("model endpoint unreachable")
        yield ""


def test_signed_in_user_is_the_customer() -> None:
    store = MemoryStore()
    at = AppTest.from_file(APP, default_timeout=20)
    at.session_state[state_keys.MANAGER] = ConversationManager(store)
    at.user = {"is_logged_in": True, "oid": "oid-123", "name": "Ada"}
    at = send(at.run(), "signed in")
    assert "cid" not in at.query_params and cookie_written(at) is None
    assert len(store.list_conversations(customer_id="oid-123", limit=5).items) == 1
    assert any("Signed in as Ada" in c.value for c in at.sidebar.caption)


def test_injected_responder_streams_and_is_recorded() -> None:
    store = MemoryStore()
    responder = ScriptedResponder()
    at = AppTest.from_file(APP, default_timeout=20)
    at.session_state[state_keys.MANAGER] = ConversationManager(store)
    at.session_state[state_keys.RESPONDER] = responder
    in_browser(at, SECRET)
    at = send(send(at.run(), "one"), "two")
    assert responder.histories == [["one"], ["one", "Hello, world", "two"]]
    [summary] = store.list_conversations(customer_id=CID, limit=5).items
    stored = store.get_conversation(ConversationKey(CID, summary.id))
    assert [m.content for m in stored.messages] == ["one", "Hello, world", "two", "Hello, world"]
    assert stored.messages[1].metadata == {"model": "fake-model"}


def test_a_failing_model_keeps_the_question_and_shows_an_error() -> None:
    store = MemoryStore()
    at = AppTest.from_file(APP, default_timeout=20)
    at.session_state[state_keys.MANAGER] = ConversationManager(store)
    at.session_state[state_keys.RESPONDER] = BrokenResponder()
    in_browser(at, SECRET)
    at = send(at.run(), "are you there?")
    assert not at.exception
    assert any("could not answer" in e.value for e in at.error)
    [summary] = store.list_conversations(customer_id=CID, limit=5).items
    assert summary.message_count == 1


@pytest.fixture
def fresh_process_cache() -> Iterator[None]:
    """No process manager or enricher from an earlier test; none left for a later one."""
    services._process_manager.clear()
    services._process_enricher.clear()
    yield
    services._process_enricher.clear()
    services._process_manager.clear()


def test_a_broken_store_setting_shows_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, fresh_process_cache: None
) -> None:
    monkeypatch.delenv("COSMOSDB_ENDPOINT", raising=False)
    monkeypatch.setenv("CONVERSATION_STORE_URL", "mysql://nowhere")  # no such store
    at = AppTest.from_file(APP, default_timeout=20).run()
    assert not at.exception
    assert any("could not be opened" in e.value for e in at.error)
    assert at.info and not at.chat_input


def test_the_store_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_process_cache: None
) -> None:
    monkeypatch.delenv("COSMOSDB_ENDPOINT", raising=False)
    monkeypatch.setenv("CONVERSATION_STORE_URL", f"sqlite:///{tmp_path}/env.db")
    at = send(AppTest.from_file(APP, default_timeout=20).run(), "from env")
    assert not at.exception
    assert (tmp_path / "env.db").exists()
    services._process_enricher().close()  # it may still be titling the conversation
    services._process_manager().close()


def test_insights_page() -> None:
    store = MemoryStore()
    at = AppTest.from_file(APP, default_timeout=20)
    at.session_state[state_keys.MANAGER] = ConversationManager(store)
    in_browser(at, SECRET)
    at = at.run().switch_page("pages/insights.py").run()
    assert any("No saved conversations" in i.value for i in at.info)
    at = at.switch_page("pages/chat.py").run()
    at = send(send(at, "one"), "two")
    at = at.switch_page("pages/insights.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Conversations"] == "1" and metrics["Messages"] == "4"
    assert int(metrics["Tokens"]) > 0
    assert metrics["Messages per conversation"] == "4.0"
    assert metrics["Longest conversation"] == "4 messages"
    assert len(at.get("vega_lite_chart")) == 2


def test_insights_totals_count_every_conversation_not_only_the_charted_ones() -> None:
    manager = ConversationManager(MemoryStore())
    for n in range(205):
        doc = manager.create_conversation_document(CID, "s1", title=f"Chat {n}")
        manager.add_message_to_conversation(doc, "user", f"question {n}", tokens=3)
        manager.save_conversation(doc)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[state_keys.MANAGER] = manager
    in_browser(at, SECRET)
    at = at.run().switch_page("pages/insights.py").run()

    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Conversations"], metrics["Messages"], metrics["Tokens"]) == (
        "205",
        "205",
        "615",
    )
    assert any("50 most recent" in c.value for c in at.caption)
