"""The chat page: the open conversation, voice and text input, and the sidebar."""

import streamlit as st
from streamlit_app import services
from streamlit_app.chat_ui import render_messages, run_turn, status_slot, voice_input
from streamlit_app.sidebar_ui import render_sidebar

chat = services.chat_session_or_stop()

title = st.empty()
title.title(chat.conversation.title or "New conversation")
slot = status_slot()
messages = st.container()  # the new turn is drawn here too, above the voice input
with messages:
    render_messages(chat)
spoken = voice_input()
typed = st.chat_input("Your message", key="chat_input")
text = typed or spoken
if text:
    with messages:
        run_turn(chat, text, slot)
    title.title(chat.conversation.title or "New conversation")
render_sidebar(chat)  # last, so a conversation created by this turn is listed
