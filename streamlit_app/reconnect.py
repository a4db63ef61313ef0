"""A friendly word while the server is out of reach.

Streamlit has no setting for the text of its "Connection error" dialog ("… Are you connected
to the internet?"), so a small script, installed once per page, rewrites that dialog's title
and text when it appears; Streamlit keeps reconnecting by itself and closes the dialog then.
"""

from __future__ import annotations

import json

import streamlit as st

TITLE = "Reconnecting…"
TEXT = (
    "The app lost its connection to the server and is reconnecting by itself. Your saved "
    "conversations are safe; the page carries on once it is back."
)
_SCRIPT = """<script>
(() => {
  const doc = window.parent.document;
  if (doc.defaultView.__reconnectNotice) { document.currentScript?.remove(); return; }
  doc.defaultView.__reconnectNotice = true;
  const soften = () => {
    for (const dialog of doc.querySelectorAll('[role="dialog"]')) {
      const title = dialog.querySelector("h2");
      if (!title || title.textContent !== "Connection error") continue;
      title.textContent = %(title)s;
      const body = title.nextElementSibling;
      if (body) body.textContent = %(text)s;
    }
  };
  new MutationObserver(soften).observe(doc.body, {childList: true, subtree: true});
  document.currentScript?.remove();
})();
</script>"""


def install_reconnect_notice() -> None:
    """Soften the connection-error dialog on this page (a no-op once installed)."""
    script = _SCRIPT % {"title": json.dumps(TITLE), "text": json.dumps(TEXT)}
    st.html(script, unsafe_allow_javascript=True)
