"""Entry point: `streamlit run streamlit_app/app.py` (or `make run`).

`streamlit run` puts only this folder on sys.path; the repository root is added so the app
imports as the `streamlit_app` package (the layout mypy and the tests use). A share link
(`?share=<token>`) gets only the read-only page: no chat, no sidebar, no navigation.
Developer controls are hidden by `.streamlit/config.toml` beside this file; the connection
error dialog is softened by `reconnect`.
"""

import sys
from pathlib import Path

import streamlit as st

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from streamlit_app.reconnect import install_reconnect_notice  # noqa: E402  (needs the path above)
from streamlit_app.share_links import SHARE_PARAM  # noqa: E402

st.set_page_config(page_title="Conversations", page_icon="💬", layout="wide")
install_reconnect_notice()
if SHARE_PARAM in st.query_params:
    navigation = st.navigation(
        [st.Page("pages/shared.py", title="Shared conversation", icon=":material/share:")],
        position="hidden",
    )
else:
    navigation = st.navigation(
        [
            st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True),
            st.Page("pages/insights.py", title="Insights", icon=":material/bar_chart:"),
        ]
    )
navigation.run()
