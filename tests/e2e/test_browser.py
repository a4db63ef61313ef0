"""The app in a real headless Chromium: chat, come back to the bare address, reopen from the
sidebar, a fresh browser context with no history, and a share link opened there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored


def send(page: Any, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    page.get_by_text(f"You said: {text}").wait_for(timeout=TIMEOUT_MS)


def new_page(browser: Any) -> Any:
    """A page in a browser context of its own: its own cookie jar, like another browser."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    return page


def test_the_bare_address_brings_the_history_back_in_the_same_browser_only(
    browser: Any, app_url: str
) -> None:
    page = new_page(browser)
    page.goto(app_url)
    page.get_by_test_id("stChatInputTextArea").wait_for()
    send(page, "Hello from a real browser")
    send(page, "Second message")
    page.get_by_text("Saved", exact=True).wait_for()
    [cookie] = [c for c in page.context.cookies() if c["name"] == "cs_identity"]
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert "cid=" not in page.url and cookie["value"] not in page.url
    assert cookie["value"] not in page.content()  # the page that stays never shows it

    page.goto(app_url)  # the bare address again, later, in the same browser
    sidebar = page.get_by_test_id("stSidebar")
    entry = sidebar.get_by_role("button", name="Hello from a real browser")
    entry.wait_for()
    assert page.get_by_test_id("stChatMessage").count() == 0  # a fresh, empty conversation
    assert "cid=" not in page.url

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

    stranger = new_page(browser)  # another browser: none of that history
    stranger.goto(app_url)
    stranger.get_by_text("No saved conversations yet.").wait_for()
    assert stranger.get_by_role("button", name="Hello from a real browser").count() == 0
    page.close()
    stranger.close()


def test_a_share_link_in_another_browser_opens_that_conversation_only(
    browser: Any, app_url: str
) -> None:
    owner = new_page(browser)
    owner.goto(app_url)
    send(owner, "Not for the viewer")
    # By its key: labels can repeat (a row may carry any title, "New conversation" too).
    owner.locator(".st-key-new_conversation").get_by_role("button").click()
    owner.get_by_test_id("stChatMessage").first.wait_for(state="detached")
    send(owner, "A recipe worth sharing")
    owner.get_by_role("button", name="Share").click()
    owner.get_by_role("button", name="Create link").click()
    link = owner.get_by_test_id("stCode").inner_text().strip()
    assert link.startswith(f"{app_url}/?share=") and "cid=" not in link

    viewer = new_page(browser)
    viewer.goto(link)
    viewer.get_by_text("A read-only copy shared with you").wait_for()
    # The messages arrive one by one after that notice; the link below them comes last.
    viewer.get_by_role("link", name="Start your own conversation").wait_for()
    texts = viewer.get_by_test_id("stChatMessage").all_inner_texts()
    assert len(texts) == 2 and "A recipe worth sharing" in texts[0]
    assert "Not for the viewer" not in viewer.content()
    assert viewer.get_by_test_id("stChatInputTextArea").count() == 0
    assert viewer.get_by_test_id("stSidebar").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    viewer.screenshot(path=str(ARTIFACTS / "shared-view.png"), full_page=True)

    viewer.goto(app_url)  # the bare address in the viewer's browser: none of the owner's
    viewer.get_by_text("No saved conversations yet.").wait_for()
    assert viewer.get_by_role("button", name="Not for the viewer").count() == 0
    assert viewer.get_by_role("button", name="A recipe worth sharing").count() == 0

    owner.get_by_role("button", name="Revoke").click()  # in the share menu, still open
    owner.get_by_role("button", name="Create link").wait_for()
    viewer.goto(link)
    viewer.get_by_text("no longer available").wait_for()
    assert viewer.get_by_test_id("stChatMessage").count() == 0
    owner.close()
    viewer.close()
