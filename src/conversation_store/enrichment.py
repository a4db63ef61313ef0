"""Background enrichment: a title after a conversation's first exchange, a summary later.

Writing a title or a summary may call a language model, which takes seconds, so it never runs
on the request path: `Enricher.submit` queues a job for one background thread and returns at
once. Each job loads the conversation and decides for itself what is due, so a job that fails
(store outage, model error) is simply redone by the next submit of that conversation.

- **Title**: due once the conversation holds a user and an assistant message and has no title.
  It is written with an etag-conditional rename, so a title the user sets meanwhile always
  wins (on a conflict the job re-checks once, then gives up).
- **Summary**: due once the conversation holds `summary_first_at` messages, then again each
  time it has grown by `summary_every` more. The message count of the last summary is kept in
  `metadata["summary_message_count"]`, so the rhythm survives restarts and several processes;
  a summary stored without that key was set by someone else and is left alone.

A job reads the newest `ENRICHMENT_WINDOW` messages only: a title is due while a conversation
is young, and a long conversation's summary describes its recent part. Only chat messages are
used and given to the writers (`history.chat_messages`: reasoning and event items are left
out), and of their content only the text (`Message.text`: text and refusal parts).

The text comes from the injected writers (e.g. a language model) when given; when there are
none, or one raises or answers blank, the local rules below are used instead:

- `derive_title`: the first user message's first line, shortened on a word boundary.
- `extract_summary`: the first sentence of each user message, joined with " · " in order; when
  they do not fit, the first one (the topic) and the newest ones that fit, with "…" between.

Every read and write is a manager call. Threading: one worker thread per Enricher; the
manager (and its store) must be usable from it, as every store of this package is.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from conversation_store.exceptions import (
    ConflictError,
    ConversationNotFoundError,
    ConversationStoreError,
)
from conversation_store.history import chat_messages
from conversation_store.manager import ConversationManager
from conversation_store.models import Conversation, ConversationKey, Message

logger = logging.getLogger(__name__)

TextWriter = Callable[[Sequence[Message]], str]
"""Writes a title or a summary for messages given oldest first (e.g. a language model call)."""

TITLE_MAX_CHARS = 60
SUMMARY_MAX_CHARS = 300
SUMMARY_FIRST_AT = 6
SUMMARY_EVERY = 6
ENRICHMENT_WINDOW = 50  # newest messages a job reads; older ones never change a new title
SUMMARY_COUNT_KEY = "summary_message_count"
_POINT_MAX_CHARS = 120
_POINT_SEPARATOR = " · "
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def shorten(text: str, max_chars: int) -> str:
    """`text` with whitespace collapsed, cut on a word boundary with "…" when too long."""
    line = " ".join(text.split())
    if len(line) <= max_chars:
        return line
    cut = line[: max_chars - 1].rsplit(" ", 1)[0] or line[: max_chars - 1]
    return cut.rstrip(" ,;:") + "…"


def derive_title(first_message: str, *, max_chars: int = TITLE_MAX_CHARS) -> str | None:
    """A title from the first user message: its first non-blank line, shortened; None if blank."""
    return shorten(_first_line(first_message), max_chars) or None


def first_sentence(text: str) -> str:
    """The first sentence of the first non-blank line of `text`, shortened."""
    return shorten(_SENTENCE_END.split(_first_line(text), maxsplit=1)[0], _POINT_MAX_CHARS)


def extract_summary(
    messages: Sequence[Message], *, max_chars: int = SUMMARY_MAX_CHARS
) -> str | None:
    """The extractive summary rule (see the module docstring); None without user text."""
    points = _unique(first_sentence(m.text) for m in chat_messages(messages) if m.role == "user")
    if not points:
        return None
    topic, later = points[0], points[1:]
    kept: list[str] = []
    budget = max_chars - len(topic) - 2 * len(_POINT_SEPARATOR) - 1  # room for a "…" part
    for point in reversed(later):
        budget -= len(point) + len(_POINT_SEPARATOR)
        if budget < 0:
            break
        kept.insert(0, point)
    gap = ["…"] if len(kept) < len(later) else []
    return shorten(_POINT_SEPARATOR.join([topic, *gap, *kept]), max_chars)


def has_first_exchange(messages: Sequence[Message]) -> bool:
    roles = {m.role for m in chat_messages(messages) if m.text.strip()}
    return {"user", "assistant"} <= roles


def summary_due(conversation: Conversation, *, first_at: int, every: int) -> bool:
    """Whether the conversation has grown enough since its last summary (or has none)."""
    count = conversation.message_count
    if count < first_at:
        return False
    if conversation.summary is None:
        return True
    last = conversation.metadata.get(SUMMARY_COUNT_KEY)
    # A summary without our count was set by someone else (a user, an API call): keep it.
    return isinstance(last, int) and count >= last + every


class Enricher:
    """Titles and summarizes conversations on one background thread.

    Meant to be one per process, next to the manager, shared by every session. Jobs are
    coalesced per conversation: submitting a conversation that already waits in the queue
    adds nothing. Every error inside a job is logged and swallowed, so a caller's save never
    fails or waits because of enrichment.
    """

    def __init__(
        self,
        manager: ConversationManager,
        *,
        title_writer: TextWriter | None = None,
        summary_writer: TextWriter | None = None,
        summary_first_at: int = SUMMARY_FIRST_AT,
        summary_every: int = SUMMARY_EVERY,
    ) -> None:
        self._manager = manager
        self._title_writer = title_writer
        self._summary_writer = summary_writer
        self._summary_first_at = summary_first_at
        self._summary_every = summary_every
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="enricher")
        self._lock = threading.Condition()
        self._queued: set[ConversationKey] = set()
        self._unfinished = 0
        self._closed = False

    def __enter__(self) -> Enricher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, conversation_id: str, customer_id: str) -> bool:
        """Queue enrichment of the conversation and return at once.

        Returns False when that conversation was already waiting (the job is coalesced).
        Raises RuntimeError after close().
        """
        key = ConversationKey(customer_id, conversation_id)
        with self._lock:
            if self._closed:
                raise RuntimeError("Enricher is closed")
            if key in self._queued:
                return False
            self._queued.add(key)
            self._unfinished += 1
            self._executor.submit(self._run, key)  # under the lock, so never after close()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job has finished; False if `timeout` seconds passed."""
        with self._lock:
            return self._lock.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self) -> None:
        """Refuse new jobs, drop the queued ones and wait for the running one. Idempotent."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:  # cancelled jobs never ran to count themselves finished
            self._queued.clear()
            self._unfinished = 0
            self._lock.notify_all()

    def _run(self, key: ConversationKey) -> None:
        with self._lock:
            self._queued.discard(key)  # a submit from now on needs a new job
        customer_id, conversation_id = key
        try:
            self._enrich(conversation_id, customer_id)
        except ConversationNotFoundError:
            logger.debug("conversation %s was deleted before it was enriched", conversation_id)
        except ConversationStoreError as exc:
            logger.warning("could not enrich conversation %s: %s", conversation_id, exc)
        except Exception:
            logger.exception("enriching conversation %s failed", conversation_id)
        finally:
            with self._lock:
                self._unfinished -= 1
                self._lock.notify_all()

    def _enrich(self, conversation_id: str, customer_id: str) -> None:
        conversation = self._load(conversation_id, customer_id)
        if conversation.title is None and has_first_exchange(conversation.messages):
            self._write_title(conversation)
        if summary_due(conversation, first_at=self._summary_first_at, every=self._summary_every):
            self._write_summary(conversation)

    def _write_title(self, conversation: Conversation) -> None:
        title = self._title_for(conversation.messages)
        if title is None or self._title_if_unchanged(conversation, title):
            return
        # Someone wrote meanwhile (perhaps the user renamed it): only an untitled one gets ours.
        reloaded = self._load(conversation.id, conversation.customer_id)
        if reloaded.title is None and not self._title_if_unchanged(reloaded, title):
            logger.info("conversation %s kept changing: title left unset", conversation.id)

    def _title_if_unchanged(self, conversation: Conversation, title: str) -> bool:
        """Write the title unless the stored version moved on; False on such a conflict."""
        if conversation.etag is None:  # e.g. only queued locally: no safe conditional write
            logger.info("no etag for conversation %s: title left unset", conversation.id)
            return True
        try:
            self._manager.rename_conversation(
                conversation.id, conversation.customer_id, title, etag=conversation.etag
            )
        except ConflictError:
            return False
        return True

    def _write_summary(self, conversation: Conversation) -> None:
        summary = self._summary_for(conversation.messages)
        if summary is None:
            return
        # The count first: should the summary write then fail, the next job redoes it.
        self._manager.update_metadata(
            conversation.id,
            conversation.customer_id,
            {SUMMARY_COUNT_KEY: conversation.message_count},
        )
        self._manager.set_summary(conversation.id, conversation.customer_id, summary)

    def _title_for(self, messages: Sequence[Message]) -> str | None:
        chat = chat_messages(messages)
        written = _ask(self._title_writer, chat, "title")
        if written is not None:
            return derive_title(_first_line(written).strip("\"'“”` "))
        first_user = next((m.text for m in chat if m.role == "user" and m.text.strip()), "")
        return derive_title(first_user)

    def _summary_for(self, messages: Sequence[Message]) -> str | None:
        chat = chat_messages(messages)
        written = _ask(self._summary_writer, chat, "summary")
        if written is not None:
            return shorten(written, SUMMARY_MAX_CHARS)
        return extract_summary(chat)

    def _load(self, conversation_id: str, customer_id: str) -> Conversation:
        return self._manager.load_conversation(conversation_id, customer_id, last=ENRICHMENT_WINDOW)


def _ask(writer: TextWriter | None, messages: Sequence[Message], what: str) -> str | None:
    """The writer's non-blank answer, or None (no writer, a blank answer, or an error)."""
    if writer is None:
        return None
    try:
        answer = writer(list(messages))
    except Exception:
        logger.warning("the %s writer failed; using the local rule", what, exc_info=True)
        return None
    return answer if isinstance(answer, str) and answer.strip() else None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _unique(items: Iterable[str]) -> list[str]:
    return [item for item in dict.fromkeys(items) if item]
