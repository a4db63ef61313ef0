"""Issue 18 in a real Chromium, at 1400 px and at 390 px: the conversation in the address,
plain user text, no developer controls and a friendly reconnecting dialog, menus that close,
the sidebar's look, archived read-only, insights. Screenshots go to artifacts/ as
`f<finding>-<what>-<width>.png`."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from e2e_server import E2EApp, running_app
from streamlit_app.reconnect import TEXT, TITLE
from streamlit_app.url_state import NOT_OPENED

from conversation_store import ConversationManager, SQLiteStore

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored
WIDTHS = (1400, 390)
TRANSPARENT = "rgba(0, 0, 0, 0)"


def new_page(browser: Any, app: E2EApp, width: int, secret: str | None = None) -> Any:
    """A page in a browser context of its own (its own cookies: another browser), holding
    `secret` as its identity cookie when given."""
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844})
    if secret is not None:
        context.add_cookies([{"name": "cs_identity", "value": secret, "url": app.url}])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def shot(page: Any, name: str, width: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(150)  # let the last rerun settle for the picture
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))


def send(page: Any, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    page.get_by_text("You said:").last.wait_for()
    page.get_by_text("Saved", exact=True).wait_for()


def seed(
    app: E2EApp, secret: str, titles: list[str | None], *, archived: int = 0, pinned: int = -1
) -> list[str]:
    """Conversations of the browser holding `secret`, newest last; the first `archived` of
    them archived, the one at index `pinned` pinned. Returns their ids."""
    customer = app.customer_id(secret)
    ids = []
    with SQLiteStore(app.database) as store:
        manager = ConversationManager(store)
        for number, title in enumerate(titles):
            conversation = manager.create_conversation_document(customer, "seed", title=title)
            for turn in range(number % 3 + 1):
                manager.add_message_to_conversation(conversation, "user", f"Tokyo question {turn}")
                manager.add_message_to_conversation(conversation, "assistant", f"Answer {turn}")
            manager.save_conversation(conversation)
            if number < archived:
                manager.archive_conversation(conversation.id, customer)
            if number == pinned:
                manager.pin_conversation(conversation.id, customer)
            ids.append(conversation.id)
    return ids


def open_sidebar(page: Any, width: int) -> Any:
    """The sidebar, opened first on a narrow screen (where it is a drawer, closed at first)."""
    sidebar = page.get_by_test_id("stSidebar")
    if width < 640:
        page.get_by_test_id("stExpandSidebarButton").click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=stSidebar]')"
            ".getAttribute('aria-expanded') !== 'false'"
        )
        page.wait_for_timeout(500)  # the drawer slides in
    return sidebar


def sidebar_is_open(page: Any) -> bool:
    box = page.get_by_test_id("stSidebar").bounding_box()
    return box is not None and box["x"] + box["width"] > 50


def narrow(page: Any) -> None:
    """The same page on a 390 px wide phone screen."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)  # the layout and the drawer settle


def test_f01_a_reload_reopens_the_conversation_and_another_browser_gets_none(
    browser: Any, e2e_app: E2EApp
) -> None:
    page = new_page(browser, e2e_app, 1400)
    page.goto(e2e_app.url)
    send(page, "Where was I")
    page.wait_for_url(re.compile(r"\?c=c_[0-9A-Z]+$"))
    address = page.url
    assert address.split("?")[1].startswith("c=") and "&" not in address  # the id, only
    page.reload()
    page.get_by_test_id("stChatMessage").nth(1).wait_for()
    assert "Where was I" in page.get_by_test_id("stChatMessage").first.inner_text()
    assert page.url == address
    shot(page, "f01-reloaded", 1400)
    narrow(page)
    shot(page, "f01-reloaded", 390)

    stranger = new_page(browser, e2e_app, 1400)
    stranger.goto(address)
    stranger.get_by_text(NOT_OPENED).wait_for()
    assert stranger.get_by_test_id("stChatMessage").count() == 0
    assert "Where was I" not in stranger.content()
    stranger.wait_for_url(re.compile(r"^[^?]*$"))  # `c` left the address
    shot(stranger, "f01-stranger", 1400)
    narrow(stranger)
    assert stranger.get_by_text(NOT_OPENED).is_visible()
    shot(stranger, "f01-stranger", 390)
    page.context.close()
    stranger.context.close()


def test_f02_f03_user_markdown_is_plain_and_no_developer_controls(
    browser: Any, e2e_app: E2EApp
) -> None:
    page = new_page(browser, e2e_app, 1400)
    page.goto(e2e_app.url)
    text = "# Big heading and **not bold**"
    send(page, text)
    for width in WIDTHS:
        if width < 640:
            narrow(page)
        bubble = page.get_by_test_id("stChatMessage").first
        assert bubble.locator("h1, strong").count() == 0
        assert text in bubble.inner_text()
        page.get_by_role("heading", level=1, name=text).wait_for()  # the title: literal too
        assert page.get_by_test_id("stAppDeployButton").count() == 0
        shot(page, "f02-plain-text", width)
        page.get_by_test_id("stMainMenu").click()
        menu = page.get_by_test_id("stMainMenuList")
        menu.wait_for()
        assert "Print" in menu.inner_text()
        for developer_item in ("Rerun", "Clear cache", "Deploy", "Settings"):
            assert developer_item not in menu.inner_text()
        shot(page, "f03-menu", width)
        page.keyboard.press("Escape")
        menu.wait_for(state="hidden")
    page.context.close()


def test_f03_a_lost_server_shows_a_friendly_reconnecting_dialog(
    browser: Any, tmp_path: Path
) -> None:
    """On a server of its own, which the test stops."""
    with running_app(tmp_path) as (app, process):
        page = new_page(browser, app, 1400)
        page.goto(app.url)
        page.get_by_test_id("stChatInputTextArea").wait_for()
        process.terminate()
        process.wait(timeout=10)
        dialog = page.get_by_role("dialog")
        dialog.get_by_text(TITLE).wait_for()
        assert TEXT in dialog.inner_text()
        assert "connected to the internet" not in dialog.inner_text()
        shot(page, "f03-reconnecting", 1400)
        page.context.close()


def test_f04_enter_renames_and_closes_the_menu_and_an_empty_title_is_refused(
    browser: Any, e2e_app: E2EApp
) -> None:
    secret = secrets.token_urlsafe(32)
    older, newer = seed(e2e_app, secret, ["Older chat", "Newer chat"])
    page = new_page(browser, e2e_app, 1400, secret)
    page.goto(e2e_app.url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.locator(f".st-key-menu_{older} button").first.click()
    title_box = page.locator(f".st-key-title_{older} input")
    title_box.fill("Trip to Kyoto")
    title_box.press("Enter")
    sidebar.locator(f".st-key-open_{older}").get_by_text("Trip to Kyoto").wait_for()
    title_box.wait_for(state="hidden")  # the menu closed by itself
    rows = sidebar.locator('[class*="st-key-open_"]')
    assert "Newer chat" in rows.nth(0).inner_text()  # renaming moved nothing
    shot(page, "f04-renamed", 1400)

    narrow(page)  # the same at 390 px, with an empty title this time
    sidebar = open_sidebar(page, 390)
    sidebar.locator(f".st-key-menu_{newer} button").first.click()
    title_box = page.locator(f".st-key-title_{newer} input")
    title_box.fill("")
    title_box.press("Enter")
    page.get_by_text("A title cannot be empty.").wait_for()
    assert title_box.is_visible()  # still open, to fix it
    assert "Newer chat" in rows.nth(0).inner_text()
    shot(page, "f04-empty-title", 390)
    page.context.close()


def test_f08_sidebar_at_1400(browser: Any, e2e_app: E2EApp) -> None:
    secret = secrets.token_urlsafe(32)
    titles: list[str | None] = [f"Chat {n}" for n in range(24)]
    titles[20] = "A much longer title about a trip to Tokyo in spring"
    titles[21] = None  # untitled: not "New conversation"
    ids = seed(e2e_app, secret, titles, pinned=3)
    page = new_page(browser, e2e_app, 1400, secret)
    page.goto(e2e_app.url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.locator(f".st-key-open_{ids[22]} button").click()
    page.get_by_role("heading", name="Chat 22").wait_for()
    assert sidebar.get_by_text("Untitled", exact=True).count() == 1
    rows = sidebar.locator('[class*="st-key-open_"]')
    assert "Chat 3" in rows.first.inner_text()  # pinned: on top, under "Pinned"
    assert sidebar.get_by_text("Pinned", exact=True).is_visible()

    open_row = sidebar.locator(f".st-key-row_{ids[22]}")
    other_row = sidebar.locator(f".st-key-row_{ids[23]}")
    assert open_row.evaluate("e => getComputedStyle(e).backgroundColor") != TRANSPARENT
    assert other_row.evaluate("e => getComputedStyle(e).backgroundColor") == TRANSPARENT
    open_button = sidebar.locator(f".st-key-open_{ids[22]} button")
    assert open_button.get_attribute("kind") == "tertiary"  # not the solid primary button
    lefts = {
        round(sidebar.locator(f".st-key-open_{ids[n]} p").bounding_box()["x"]) for n in (19, 20, 23)
    }
    assert len(lefts) == 1, lefts  # short and long titles start at one left edge
    chevrons = sidebar.locator('[class*="st-key-menu_"]').get_by_text("expand_more")
    assert all(not c.is_visible() for c in chevrons.all())
    assert sidebar.get_by_test_id("stDownloadButton").count() == 0
    page.mouse.move(900, 450)  # no hover highlight in the pictures
    shot(page, "f08-sidebar-top", 1400)

    # Scrolled to the bottom of 20 rows: "New conversation" and search are still on top.
    sidebar.get_by_test_id("stSidebarContent").evaluate("e => e.scrollTo(0, e.scrollHeight)")
    page.wait_for_timeout(300)
    new_box = sidebar.locator(".st-key-new_conversation button").bounding_box()
    assert new_box is not None and 0 <= new_box["y"] < 150
    assert page.locator(".st-key-search_query input").is_visible()
    shot(page, "f08-sidebar", 1400)

    search = page.locator(".st-key-search_query input")
    search.fill("tokyo")
    search.press("Enter")
    hit = sidebar.locator('[class*="st-key-search_hit_"] button').first
    hit.wait_for()
    assert hit.locator("strong").first.inner_text().lower() == "tokyo"
    assert hit.evaluate("e => getComputedStyle(e).cursor") == "pointer"
    assert hit.evaluate("e => getComputedStyle(e).borderTopStyle") != "none"
    sidebar.get_by_test_id("stSidebarContent").evaluate("e => e.scrollTo(0, 0)")
    shot(page, "f08-search", 1400)
    page.context.close()


def test_f08_sidebar_at_390(browser: Any, e2e_app: E2EApp) -> None:
    secret = secrets.token_urlsafe(32)
    ids = seed(e2e_app, secret, ["Short", "A long title that would push the menu down", "Third"])
    page = new_page(browser, e2e_app, 390, secret)
    page.goto(e2e_app.url)
    sidebar = open_sidebar(page, 390)
    for conversation_id in ids:
        row = sidebar.locator(f".st-key-open_{conversation_id} button").bounding_box()
        menu = sidebar.locator(f".st-key-menu_{conversation_id} button").first.bounding_box()
        assert row is not None and menu is not None
        middle = menu["y"] + menu["height"] / 2
        assert row["y"] <= middle <= row["y"] + row["height"]  # ⋮ on its title's row
        assert menu["x"] >= row["x"] + row["width"] - 1  # to its right
    shot(page, "f08-sidebar", 390)
    sidebar.locator(f".st-key-open_{ids[0]} button").click()
    page.get_by_role("heading", name="Short").wait_for()
    page.wait_for_function(  # the drawer slid out of sight
        "() => document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().right <= 1"
    )
    assert not sidebar_is_open(page)  # the drawer closed after the pick
    shot(page, "f08-picked", 390)
    page.context.close()


def test_f09_an_archived_conversation_is_read_only_with_a_banner(
    browser: Any, e2e_app: E2EApp
) -> None:
    secret = secrets.token_urlsafe(32)
    archived, active = seed(e2e_app, secret, ["Put away", "Still here"], archived=1)
    page = new_page(browser, e2e_app, 1400, secret)
    page.goto(e2e_app.url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.locator(f".st-key-row_{active}").wait_for()
    assert sidebar.locator(f".st-key-row_{archived}").count() == 0  # not in the main list
    sidebar.locator(".st-key-archived_section summary").click()
    sidebar.locator(f".st-key-open_{archived} button").click()
    page.get_by_text("This conversation is archived").wait_for()
    page.get_by_test_id("stChatInputTextArea").wait_for(state="detached")  # no new messages
    assert sidebar.locator(f".st-key-row_{active}").is_visible()  # the list stayed
    shot(page, "f09-archived", 1400)
    narrow(page)
    shot(page, "f09-archived", 390)
    page.locator(".st-key-restore_open button").click()
    page.get_by_test_id("stChatInputTextArea").wait_for()
    page.context.close()


def test_f10_insights_name_the_longest_and_order_the_bars(browser: Any, e2e_app: E2EApp) -> None:
    secret = secrets.token_urlsafe(32)
    seed(e2e_app, secret, ["One turn", "Two turns", "Three turns"])
    page = new_page(browser, e2e_app, 1400, secret)
    page.goto(e2e_app.url)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Insights").click()
    page.get_by_role("heading", name="Tokens per conversation").wait_for()
    page.get_by_test_id("stVegaLiteChart").nth(1).wait_for()
    longest = page.locator(".st-key-open_longest button")
    assert longest.inner_text().endswith("Three turns")
    page.wait_for_timeout(800)  # let the charts finish drawing for the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "f10-insights-1400.png"), full_page=True)
    longest.click()
    page.get_by_role("heading", name="Three turns").wait_for()
    page.wait_for_url(re.compile(r"\?c=c_"))
    page.context.close()
