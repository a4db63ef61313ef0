"""Named, append-only schema migrations of the PostgreSQL store, applied in order on open.

The store applies the ones a database lacks in one transaction holding an advisory lock, so
two processes opening the same database together apply each migration once. Never edit or
reorder a migration that has shipped: add a new one at the end.
"""

from __future__ import annotations

# The key of the transaction-level advisory lock taken while migrating (any fixed bigint).
MIGRATION_LOCK = 0x636F6E765F7374  # "conv_st"

CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS _migrations "
    "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)

# Ids sort by code point (COLLATE "C"), as in the other stores, whatever the database locale.
# `words` holds the lowercased words of the content as lexemes (`rows.search_words`), so a
# prefix query (`rows.search_query`) finds exactly the word prefixes `search.matches` accepts.
_M001 = (
    """
    CREATE TABLE conversations (
        customer_id text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        session_id text,
        title text,
        persona text,
        org_id text,
        metadata text NOT NULL DEFAULT '{}',
        extra text NOT NULL DEFAULT '{}',
        summary text,
        archived boolean NOT NULL DEFAULT false,
        ttl integer,
        share_id text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        message_count integer NOT NULL DEFAULT 0,
        total_tokens bigint NOT NULL DEFAULT 0,
        version bigint NOT NULL DEFAULT 1,
        next_seq bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (customer_id, id)
    )
    """,
    "CREATE INDEX conversations_recent "
    "ON conversations (customer_id, archived, updated_at DESC, id DESC)",
    """
    CREATE TABLE messages (
        customer_id text COLLATE "C" NOT NULL,
        conversation_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        id text COLLATE "C",
        body text NOT NULL,
        tokens integer NOT NULL DEFAULT 0,
        sent_at timestamptz NOT NULL,
        words tsvector NOT NULL,
        PRIMARY KEY (customer_id, conversation_id, seq),
        UNIQUE (customer_id, conversation_id, id),
        FOREIGN KEY (customer_id, conversation_id)
            REFERENCES conversations (customer_id, id) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX messages_words ON messages USING gin (words)",
    """
    CREATE TABLE share_links (
        token_hash text PRIMARY KEY,
        customer_id text COLLATE "C" NOT NULL,
        conversation_id text COLLATE "C" NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz
    )
    """,
    "CREATE INDEX share_links_by_conversation ON share_links (customer_id, conversation_id)",
)

# Pins, the caller's external id (unique per customer: the index is what makes two racing
# creates conflict) and the last header change (header changes no longer move `updated_at`,
# the listing order).
_M002 = (
    "ALTER TABLE conversations ADD COLUMN pinned boolean NOT NULL DEFAULT false",
    'ALTER TABLE conversations ADD COLUMN external_id text COLLATE "C"',
    "ALTER TABLE conversations ADD COLUMN header_updated_at timestamptz",
    "CREATE UNIQUE INDEX conversations_by_external_id "
    "ON conversations (customer_id, external_id) WHERE external_id IS NOT NULL",
)

MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    ("001_conversations_messages_share_links", _M001),
    ("002_pins_and_external_ids", _M002),
]
