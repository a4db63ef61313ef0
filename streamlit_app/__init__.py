"""The Streamlit chat app over conversation-store: thin pages, logic in small typed modules."""
