"""Adapters that put the store behind agent frameworks' own history interfaces.

Each module needs its framework, installed with the extra of the same name
(`pip install 'conversation-store[openai-agents]'`, ...), and is imported by its full name
(`conversation_store.integrations.openai_agents`); this package imports none of them.
"""
