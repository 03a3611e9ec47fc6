"""What crosses the core's boundary: a :class:`Turn` in, a :class:`Reply` out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum

from common.hits import Hit
from common.links import safe_link


class Status(StrEnum):
    """What kind of reply this is; adapters act on it (buttons, silence, handoff notices)."""

    ANSWERED = "answered"
    CLARIFY = "clarify"  # which of these entries do you mean?
    NO_ANSWER = "no_answer"
    OFF_TOPIC = "off_topic"
    SMALL_TALK = "small_talk"
    LANGUAGE_SWITCHED = "language_switched"
    HANDOFF = "handoff"
    HANDOFF_UNAVAILABLE = "handoff_unavailable"
    HANDOFF_LIMITED = "handoff_limited"  # asked too often, or the team's queue is full
    HANDED_OFF = "handed_off"  # a person has the conversation: say nothing
    EMPTY = "empty"
    ERROR = "error"


# Replies a customer can rate or escalate from: everything the bot said itself.
ACTIONABLE = frozenset(
    {
        Status.ANSWERED,
        Status.CLARIFY,
        Status.NO_ANSWER,
        Status.OFF_TOPIC,
        Status.SMALL_TALK,
        Status.LANGUAGE_SWITCHED,
        Status.ERROR,
        Status.HANDOFF_UNAVAILABLE,
    }
)


@dataclass(frozen=True)
class Turn:
    text: str
    conversation_id: str = "default"
    user: str = ""
    channel: str = ""
    language: str | None = None  # an adapter that knows the customer's language may set it
    locale: str | None = None  # e.g. the browser's "pt-PT": used for prices and dates
    # Where the customer writes from, as the adapter counts it (a web client's address or
    # network); handoffs are limited per address too.
    address: str = ""


@dataclass(frozen=True)
class Citation:
    number: int  # the [n] the answer text uses for this entry
    id: str
    title: str
    url: str
    source: str
    score: float  # calibrated relevance, 0..1
    rank_score: float = 0.0


@dataclass
class Reply:
    """Iterate it for the token stream; ``text`` and ``citations`` are final once it is consumed.
    The engine hands out replies already wired to their stream (:meth:`stream_from`); callbacks
    added with :meth:`add_done_callback` run once the stream is consumed."""

    language: str
    confidence: float
    citations: list[Citation]
    grounded: bool
    status: Status = Status.ANSWERED
    query: str = ""  # what retrieval searched for (the rewrite of a follow-up)
    # How an answer was made: draft | redraft (second try) | fallback (the entry's own text) |
    # clarify | declined | legacy; empty for fixed messages.
    path: str = ""
    # The answering entry as read: "own" (in the customer's language), "cached" (a stored
    # translation), "new" (translated for this turn), "" (no entry or the legacy path).
    translation: str = ""
    offer_handoff: bool = False  # adapters show a "talk to a person" button
    handoff: Future | None = field(default=None, repr=False)  # the event, once delivered
    # Done once the team's summary and translation (LLM calls) are written, before delivery.
    handoff_summarised: Future | None = field(default=None, repr=False)
    text: str = ""
    error: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # what feedback refers to
    started: float = field(default_factory=time.perf_counter, repr=False)
    first_token_s: float | None = None  # seconds from ``started`` to the first visible text
    _stream: Iterator[str] = field(repr=False, default_factory=lambda: iter(()))
    _done: bool = field(default=False, repr=False)
    _callbacks: list[Callable[[Reply], None]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    def stream_from(self, tokens: Iterator[str]) -> Reply:
        self._stream = tokens
        return self

    def add_done_callback(self, callback: Callable[[Reply], None]) -> None:
        self._callbacks.append(callback)

    def __iter__(self) -> Iterator[str]:
        if self._done:
            return
        for token in self._stream:
            if self.first_token_s is None and token.strip():
                self.first_token_s = time.perf_counter() - self.started
            self.text += token
            yield token
        self._done = True
        for callback in self._callbacks:
            callback(self)

    def final(self) -> str:
        for _ in self:
            pass
        return self.text


def citation(number: int, hit: Hit) -> Citation:
    meta = hit.document.metadata
    return Citation(
        number=number,
        id=hit.entry_id,
        title=str(meta.get("title", "")),
        url=safe_link(str(meta.get("url") or "")),  # stored before ingest checked links
        source=str(meta.get("source", "")),
        score=hit.relevance,
        rank_score=hit.score,
    )
