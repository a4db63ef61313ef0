"""The chat page: the open conversation (its id in the address), voice and text input, and
the sidebar. An archived conversation is read-only: a banner and Restore, no input."""

import streamlit as st
from streamlit_app import services
from streamlit_app.callbacks import show_announcement, show_callback_error
from streamlit_app.chat_ui import (
    PageTurn,
    render_archived_banner,
    render_downloads,
    render_header,
    render_messages,
    render_parked_warning,
    render_share_menu,
    render_toolbar,
)
from streamlit_app.sidebar_ui import render_sidebar
from streamlit_app.url_state import follow_address, write_address
from streamlit_app.voice_ui import prompt_input, reply_read_aloud

chat = services.chat_session_or_stop()
follow_address(chat)  # a reload or a pasted `?c=` link reopens its conversation

header = st.empty()
render_header(header, chat)
slot, menus = render_toolbar()
render_parked_warning(chat)
show_callback_error()
show_announcement()
render_archived_banner(chat)
messages = st.container()  # the new turn is drawn here too, above the voice input
with messages:
    render_messages(chat)
text = None
if not chat.is_read_only:
    text = prompt_input()  # typed, or a recording's transcript once checked in the box
if text:
    with messages, reply_read_aloud(chat):
        chat.turn(text, PageTurn(chat, slot), services)
listed = render_sidebar(chat)  # last, so a conversation created by this turn is listed
chat.adopt_header(listed)  # a title or summary the enricher wrote since the last run
render_header(header, chat)
with menus:
    render_share_menu(chat)
    render_downloads(chat)
write_address(chat)
