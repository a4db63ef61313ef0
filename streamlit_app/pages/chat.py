"""The chat page: the open conversation, voice and text input, and the sidebar."""

import streamlit as st
from streamlit_app import services
from streamlit_app.callbacks import show_callback_error
from streamlit_app.chat_ui import (
    PageTurn,
    render_header,
    render_messages,
    render_parked_warning,
    render_share_menu,
    render_toolbar,
    voice_input,
)
from streamlit_app.sidebar_ui import render_sidebar

chat = services.chat_session_or_stop()

header = st.empty()
render_header(header, chat)
slot, share_area = render_toolbar()
render_parked_warning(chat)
show_callback_error()
messages = st.container()  # the new turn is drawn here too, above the voice input
with messages:
    render_messages(chat)
spoken = voice_input()
typed = st.chat_input("Your message", key="chat_input")
text = typed or spoken
if text:
    with messages:
        chat.turn(text, PageTurn(chat, slot), services)
listed = render_sidebar(chat)  # last, so a conversation created by this turn is listed
chat.adopt_header(listed)  # a title or summary the enricher wrote since the last run
render_header(header, chat)
with share_area:
    render_share_menu(chat)
