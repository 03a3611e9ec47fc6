"""What crosses the core's boundary: a :class:`Turn` in, a :class:`Reply` out."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from langchain_core.documents import Document

from common.links import safe_link


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

    ``status``: answered | clarify (which of these entries do you mean?) | no_answer |
    off_topic | small_talk | language_switched | handoff |
    handoff_unavailable | handoff_limited (asked too often, or the team's queue is full) |
    handed_off (a person has the conversation: say nothing) | empty | error.
    """

    language: str
    confidence: float
    citations: list[Citation]
    grounded: bool
    status: str = "answered"
    query: str = ""  # what retrieval searched for (the rewrite of a follow-up)
    # How an answer was made: draft | redraft (second try) | fallback (the entry's own text) |
    # clarify | declined | legacy; empty for fixed messages.
    path: str = ""
    offer_handoff: bool = False  # adapters show a "talk to a person" button
    handoff: Future | None = field(default=None, repr=False)  # the event, once delivered
    # Done once the team's summary and translation (LLM calls) are written, before delivery.
    handoff_summarised: Future | None = field(default=None, repr=False)
    _tokens: Iterator[str] = field(repr=False, default_factory=lambda: iter(()))
    text: str = ""
    error: str | None = None
    _done: bool = field(default=False, repr=False)
    _on_done: Callable[["Reply"], None] | None = field(default=None, repr=False)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # what feedback refers to

    def __iter__(self) -> Iterator[str]:
        if self._done:
            return
        for token in self._tokens:
            self.text += token
            yield token
        self._done = True
        if self._on_done:
            self._on_done(self)

    def final(self) -> str:
        for _ in self:
            pass
        return self.text


def citation(number: int, doc: Document) -> Citation:
    meta = doc.metadata
    return Citation(
        number=number,
        id=str(meta.get("entry_id") or doc.id or ""),
        title=str(meta.get("title", "")),
        url=safe_link(str(meta.get("url") or "")),  # stored before ingest checked links
        source=str(meta.get("source", "")),
        score=float(meta.get("score", 0.0)),
        rank_score=float(meta.get("rank_score", meta.get("score", 0.0))),
    )
