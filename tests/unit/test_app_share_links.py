"""Share links: the app's address and the token only, no other query parameter."""

from __future__ import annotations

import pytest
from streamlit_app.share_links import app_address, share_url


@pytest.mark.parametrize(
    ("page_url", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("https://chat.example.com", "https://chat.example.com/"),
        ("https://chat.example.com/base/?cid=anon_1#top", "https://chat.example.com/base/"),
    ],
)
def test_app_address(page_url: str | None, expected: str) -> None:
    assert app_address(page_url) == expected


def test_share_url_quotes_the_token_and_drops_other_parameters() -> None:
    url = share_url("http://127.0.0.1:8501/?cid=anon_secret", "a+b/c")
    assert url == "http://127.0.0.1:8501/?share=a%2Bb%2Fc"
