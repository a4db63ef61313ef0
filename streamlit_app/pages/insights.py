"""The insights page: counts and charts of the current customer's conversations."""

import streamlit as st
from streamlit_app import services
from streamlit_app.insights_ui import render_insights

chat = services.chat_session_or_stop()
st.title("Insights")
render_insights(chat)
