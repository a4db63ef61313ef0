"""The sync PostgreSQL store: the generated twin of `conversation_store.aio.postgres` plus
the operator scans (sync only, as for every store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conversation_store.models import ConversationKey, ConversationSummary, utc_now
from conversation_store.stores.postgres import rows
from conversation_store.stores.postgres.twin import ANY, DbConnection
from conversation_store.stores.postgres.twin import PostgresStore as _PostgresTwin

_SCAN_PAGE_SIZE = 500


class PostgresStore(_PostgresTwin):
    """Conversations in PostgreSQL; safe to share between the threads of a process (each
    call takes its own pooled connection)."""

    def __enter__(self) -> PostgresStore:
        return self

    def scan_conversations(
        self, *, customer_id: str | None = None, updated_before: str | None = None
    ) -> Iterator[ConversationSummary]:
        """A page of rows at a time in key order, with no transaction open between pages."""
        where = ["(c.customer_id, c.id) > (%(after_customer)s, %(after_id)s)"]
        params: dict[str, Any] = {}
        if customer_id is not None:
            where.append("c.customer_id = %(customer_id)s")
            params["customer_id"] = customer_id
        if updated_before is not None:
            where.append("c.updated_at < %(before)s")
            params["before"] = rows.updated_before(updated_before)
        return self._scan_pages(" AND ".join(where), params)

    def count_messages_by_day(self, *, customer_id: str | None = None) -> dict[str, int]:
        where, params = [rows.LIVE], {"now": utc_now(), "customer_id": customer_id}
        if customer_id is not None:
            where.append("m.customer_id = %(customer_id)s")
        query = (
            "SELECT to_char(m.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n "
            "FROM messages AS m JOIN conversations AS c "
            "ON c.customer_id = m.customer_id AND c.id = m.conversation_id "
            f"WHERE {' AND '.join(where)} GROUP BY day ORDER BY day"
        )

        def work(db: DbConnection) -> dict[str, int]:
            return {row["day"]: row["n"] for row in db.execute(query, params).fetchall()}

        return self._run(ConversationKey(customer_id or ANY, ANY), work)

    def _scan_pages(self, where: str, params: dict[str, Any]) -> Iterator[ConversationSummary]:
        after = ("", "")
        query = (
            f"SELECT {rows.HEADER_COLUMNS} FROM conversations AS c WHERE {where} "
            "ORDER BY c.customer_id, c.id LIMIT %(n)s"
        )
        while True:
            page_params = {
                **params,
                "after_customer": after[0],
                "after_id": after[1],
                "n": _SCAN_PAGE_SIZE,
            }

            def work(db: DbConnection, page_params: dict[str, Any] = page_params) -> list[Any]:
                return db.execute(query, page_params).fetchall()

            found = self._run(ConversationKey(params.get("customer_id") or ANY, ANY), work)
            yield from (rows.summary(row) for row in found)
            if len(found) < _SCAN_PAGE_SIZE:
                return
            after = (found[-1]["customer_id"], found[-1]["id"])
