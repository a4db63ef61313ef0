"""Every `st.session_state` key the app reads or writes, in one place.

Widget keys live here too when their value is read back from session state (a widget's
value sits in session state under its key). Tests inject objects under the first six.
"""

from __future__ import annotations

MANAGER = "conversation_manager"  # an injected ConversationManager (tests); else the process's
RESPONDER = "responder"  # an injected Responder (tests); else Azure OpenAI or the offline one
TRANSCRIBER = "transcriber"  # an injected Transcriber (tests); else Azure Speech, Whisper, …
SYNTHESIZER = "synthesizer"  # an injected Synthesizer (tests); else Azure Speech or espeak-ng
ENRICHER = "enricher"  # an injected Enricher (tests); else the process's, or none
COOKIES = "browser_cookies"  # injected browser cookies (AppTest has none); else st.context's
CHAT = "chat_session"  # this browser session's ChatSession
SESSION_ID = "session_id"  # this browser session's id, stored on the conversations it writes
BROWSER_SECRET = "browser_secret"  # the anonymous visitor's secret (its cookie's value)
FORGOTTEN = "forgotten"  # set by "Forget me on this browser", shown once by the next run
SAVE_STATUS = "save_status"  # the status line of the last write ("Saved", "… pending")
CALLBACK_ERROR = "callback_error"  # a widget callback's store error, shown once by the next run
EDITING = "editing_message"  # the id of the message whose editor is open
CHAT_INPUT = "chat_input"  # the chat box; a recording's transcript is written here to edit
VOICE_NOTICE = "voice_notice"  # what became of the last recording, shown by the next run
SPEAK_REPLIES = "speak_replies"  # the "Speak replies" toggle: read each new reply aloud
SIDEBAR_PAGES = "sidebar_pages"  # how many pages of recent conversations the sidebar lists
CONFIRM_DELETE = "confirm_delete"  # the id of the conversation whose deletion awaits a yes
ARCHIVED_SECTION = "archived_section"  # the sidebar's collapsible "Archived" section (open?)
CONFIRM_MESSAGE_DELETE = "confirm_message_delete"  # the message whose deletion awaits a yes
TOAST = "toast"  # what an action did ("Deleted …"), shown once by the next run as a toast
URL_SEEN = "url_seen"  # every `?c=` this session wrote or followed (never followed again)
CLOSE_DRAWER = "close_drawer"  # a conversation was picked: close the sidebar on a narrow screen
SHARE_EXPIRY = "share_expiry"  # the share menu's choice of how long a new link works


def edit_text(message_id: str) -> str:
    """The message editor's text area: its text is read when the edit is saved."""
    return f"edit_text_{message_id}"


def title_input(conversation_id: str) -> str:
    """The rename box of a conversation's menu: its text is read when renaming."""
    return f"title_{conversation_id}"


def row_menu(conversation_id: str) -> str:
    """A sidebar row's ⋮ menu: its value is whether it is open (actions close it)."""
    return f"menu_{conversation_id}"


def rename_error(conversation_id: str) -> str:
    """Why the last rename in a row's menu was refused (an empty title), shown in the menu."""
    return f"rename_error_{conversation_id}"


def message_menu(message_id: str) -> str:
    """A message's ⋯ menu: its value is whether it is open (actions close it)."""
    return f"message_menu_{message_id}"
