"""Read-only share links: `?share=<token>` on the app's address, and nothing else.

The token is random and names nothing; it opens one conversation for reading. Other query
parameters of the page's address are dropped from the link.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

SHARE_PARAM = "share"


def app_address(page_url: str | None) -> str:
    """The app's address without query or fragment, from `st.context.url`; "/" when that is
    unknown (None outside a browser, e.g. under AppTest)."""
    if not page_url:
        return "/"
    scheme, netloc, path, _, _ = urlsplit(page_url)
    return urlunsplit((scheme, netloc, path or "/", "", ""))


def share_url(page_url: str | None, token: str) -> str:
    """The link to give out: the app's address with only `?share=<token>`."""
    return f"{app_address(page_url)}?{urlencode({SHARE_PARAM: token})}"
