"""The original VoiceBot's usage of its ConversationManager, as its docs write it.

From the seed's "Conversation Management System" page ("Basic Integration"), verbatim but
for the import: the seed imports `ConversationManager` from its own `utils.conversation_manager`.
docs/configuration.md shows the same text.
"""

from __future__ import annotations

from typing import Any

SEED_SNIPPET = """\
from conversation_store import ConversationManager

# Initialize
conversation_manager = ConversationManager()

# Create conversation
conversation_doc = conversation_manager.create_conversation_document(
    customer_id="user_123",
    session_id="session_456"
)

# Add messages
conversation_manager.add_message_to_conversation(
    conversation_doc,
    role="user",
    content="Hello"
)

# Save to Cosmos DB
conversation_manager.save_conversation(conversation_doc)
"""


def run_seed_snippet() -> dict[str, Any]:
    """Run the snippet as a script would, in the current environment and working directory;
    returns its variables (`conversation_manager`, `conversation_doc`)."""
    namespace: dict[str, Any] = {"__name__": "__seed__"}
    exec(compile(SEED_SNIPPET, "<seed snippet>", "exec"), namespace)
    return namespace
