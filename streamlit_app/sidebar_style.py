"""The sidebar's look, as CSS scoped by the `st-key-*` classes of keyed elements: controls
pinned at the top, rows left-aligned with the open one subtly highlighted, ⋮ (and each
message's ⋯) without a chevron and on its row at any width, search hits that look clickable;
and the script that closes the drawer on a narrow screen once a conversation is picked.

Only ids of our own shape reach the CSS (anything else is left unhighlighted), and no user
text is ever put into it.
"""

from __future__ import annotations

import re

import streamlit as st

NARROW = "(max-width: 640px)"  # Streamlit's own breakpoint: the sidebar becomes a drawer
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")

_BASE_CSS = """
.st-key-sidebar_controls { padding: 0.5rem 0; }
[data-testid="stLayoutWrapper"]:has(> .st-key-sidebar_controls) {
  position: sticky; top: 0; z-index: 3;
}
[data-testid="stSidebar"] div:has(.st-key-sidebar_controls),
.st-key-sidebar_controls { background-color: inherit; }
[class*="st-key-row_"] { flex-wrap: nowrap !important; gap: 0.25rem !important;
  border-radius: 0.5rem; }
[class*="st-key-row_"]:hover { background-color: rgba(151, 166, 195, 0.12); }
[class*="st-key-open_"], [class*="st-key-open_"] button { min-width: 0; }
[class*="st-key-open_"] button, [class*="st-key-search_hit_"] button {
  justify-content: flex-start !important; text-align: left !important;
}
[class*="st-key-open_"] button *, [class*="st-key-search_hit_"] button * {
  text-align: left !important; justify-content: flex-start !important;
}
[class*="st-key-open_"] button p {
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
}
[class*="st-key-menu_"] { flex: 0 0 auto !important; width: auto !important; }
[class*="st-key-menu_"] [data-testid="stPopoverButton"] div[aria-hidden="true"],
[class*="st-key-message_menu_"] [data-testid="stPopoverButton"] div[aria-hidden="true"] {
  display: none;
}
[class*="st-key-search_hit_"] button { border-color: rgba(151, 166, 195, 0.45); }
[class*="st-key-search_hit_"] button:hover { background-color: rgba(151, 166, 195, 0.18); }
"""

_CLOSE_DRAWER = f"""<script>
if (window.matchMedia("{NARROW}").matches) {{
  const close = window.parent.document.querySelector(
    '[data-testid="stSidebarCollapseButton"] button');
  if (close) close.click();
}}
document.currentScript.remove();
</script>"""


def sidebar_css(open_id: str | None) -> str:
    """The sidebar's stylesheet; `open_id` is the open conversation's row to highlight."""
    css = _BASE_CSS
    if open_id is not None and _SAFE_ID.fullmatch(open_id):
        css += (
            f".st-key-row_{open_id} {{ background-color: rgba(151, 166, 195, 0.25); }}\n"
            f".st-key-row_{open_id} button p {{ font-weight: 600; }}\n"
        )
    return f"<style>{css}</style>"


def apply_sidebar_style(open_id: str | None) -> None:
    st.html(sidebar_css(open_id))


def close_drawer_on_narrow_screens() -> None:
    """Close the sidebar drawer, on a narrow screen only (a desktop sidebar stays)."""
    st.html(_CLOSE_DRAWER, unsafe_allow_javascript=True)
