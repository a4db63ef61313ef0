"""The app in a real headless Chromium: chat, reload, reopen from the sidebar, share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def send(page: Any, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    page.get_by_text(f"You said: {text}").wait_for(timeout=TIMEOUT_MS)


def test_chat_reload_and_reopen(browser: Any, app_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.get_by_test_id("stChatInputTextArea").wait_for()
    send(page, "Hello from a real browser")
    send(page, "Second message")
    page.get_by_text("Saved", exact=True).wait_for()
    assert "cid=anon_" in page.url

    page.goto(page.url)  # a reload: same URL, so the same anonymous customer
    sidebar = page.get_by_test_id("stSidebar")
    entry = sidebar.get_by_role("button", name="Hello from a real browser")
    entry.wait_for()
    assert page.get_by_test_id("stChatMessage").count() == 0  # a fresh, empty conversation

    entry.click()
    messages = page.get_by_test_id("stChatMessage")
    messages.nth(3).wait_for()
    texts = messages.all_inner_texts()
    assert "Hello from a real browser" in texts[0] and "Second message" in texts[2]
    assert "Offline responder" in texts[1]
    page.get_by_role("heading", name="Hello from a real browser").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-reopened.png"), full_page=True)

    sidebar.get_by_role("link", name="Insights").click()
    page.get_by_role("heading", name="Messages per day").wait_for()
    page.get_by_test_id("stVegaLiteChart").nth(1).wait_for()
    page.wait_for_timeout(500)  # let the charts finish drawing for the screenshot
    page.screenshot(path=str(ARTIFACTS / "insights.png"), full_page=True)
    page.close()


def test_share_link_opens_a_read_only_view(browser: Any, app_url: str) -> None:
    owner = browser.new_page(viewport={"width": 1280, "height": 900})
    owner.set_default_timeout(TIMEOUT_MS)
    owner.goto(app_url)
    send(owner, "A recipe worth sharing")
    owner.get_by_role("button", name="Share").click()
    owner.get_by_role("button", name="Create link").click()
    link = owner.get_by_test_id("stCode").inner_text().strip()
    assert link.startswith(f"{app_url}/?share=") and "cid=" not in link

    viewer = browser.new_page(viewport={"width": 1280, "height": 900})  # its own context
    viewer.set_default_timeout(TIMEOUT_MS)
    viewer.goto(link)
    viewer.get_by_text("A read-only copy shared with you").wait_for()
    # The messages arrive one by one after that notice; the link below them comes last.
    viewer.get_by_role("link", name="Start your own conversation").wait_for()
    texts = viewer.get_by_test_id("stChatMessage").all_inner_texts()
    assert len(texts) == 2 and "A recipe worth sharing" in texts[0]
    assert viewer.get_by_test_id("stChatInputTextArea").count() == 0
    assert viewer.get_by_test_id("stSidebar").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    viewer.screenshot(path=str(ARTIFACTS / "shared-view.png"), full_page=True)

    owner.get_by_role("button", name="Stop sharing").click()
    owner.get_by_role("button", name="Create link").wait_for()
    viewer.goto(link)
    viewer.get_by_text("no longer available").wait_for()
    assert viewer.get_by_test_id("stChatMessage").count() == 0
    owner.close()
    viewer.close()
