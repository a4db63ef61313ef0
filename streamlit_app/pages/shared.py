"""The read-only page a share link opens (see shared_view)."""

from streamlit_app.shared_view import render_shared_view

render_shared_view()
