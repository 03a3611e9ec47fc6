"""The core: one turn in, one grounded reply out. Knows nothing of Slack, Discord or the web."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.retrievers import BaseRetriever

from .language import detect_language, language_name
from .memory import InMemoryHistory, Message
from .messages import message
from .prompts import ANSWER_PROMPT, format_entries

log = logging.getLogger(__name__)

# When the model cites no entry number, cite the entries ranked nearly as high as the best
# one (fused retrieval score, in standard deviations); the rest were context, not the source.
CITATION_MARGIN = 0.5

# A short message ("ok", "thanks!") or a low-confidence detection keeps the
# conversation's language instead of switching to whatever the detector guessed.
STICKY_LANGUAGE_BELOW = 0.6
SHORT_MESSAGE_WORDS = 3


@dataclass(frozen=True)
class Turn:
    text: str
    conversation_id: str = "default"
    user: str = ""
    channel: str = ""
    language: str | None = None  # an adapter that knows the customer's language may set it


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
    """Iterate it for the token stream; ``text`` and ``citations`` are final once it is consumed."""

    language: str
    confidence: float
    citations: list[Citation]
    grounded: bool
    _tokens: Iterator[str] = field(repr=False, default_factory=lambda: iter(()))
    text: str = ""
    error: str | None = None
    _done: bool = field(default=False, repr=False)
    _on_done: Callable[["Reply"], None] | None = field(default=None, repr=False)

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


_CITATION_MARK = re.compile(r"\[(\d{1,2})\]")


class Engine:
    def __init__(self, retriever: BaseRetriever, llm: BaseChatModel | Callable[[], BaseChatModel],
                 *, min_confidence: float, memory: InMemoryHistory | None = None,
                 default_language: str = "en", max_context_entries: int = 3,
                 history_messages: int = 6):
        self.retriever = retriever
        self._llm = llm
        self.min_confidence = min_confidence
        self.memory = memory or InMemoryHistory()
        self.default_language = default_language
        self.max_context_entries = max_context_entries
        self.history_messages = history_messages
        self._chain = None

    @property
    def chain(self):
        # The LLM may be a factory: the embedded server starts only when an answer needs it.
        if self._chain is None:
            llm = self._llm() if callable(self._llm) and not isinstance(self._llm, BaseChatModel) else self._llm
            self._chain = ANSWER_PROMPT | llm | StrOutputParser()
        return self._chain

    def reply_language(self, turn: Turn, history: list[Message]) -> str:
        if turn.language:
            return turn.language
        detected = detect_language(turn.text, self.default_language)
        previous = next((m.language for m in reversed(history) if m.role == "human" and m.language), None)
        short = detected.confidence < 1.0 and len(turn.text.split()) < SHORT_MESSAGE_WORDS
        if previous and (short or detected.confidence < STICKY_LANGUAGE_BELOW):
            return previous
        return detected.language

    def answer(self, turn: Turn) -> Reply:
        history = self.memory.messages(turn.conversation_id)
        language = self.reply_language(turn, history)
        question = turn.text.strip()
        if not question:
            return self._fixed(turn, language, "empty_question", record=False)

        try:
            docs = self.retriever.invoke(question)
        except Exception as exc:  # store or embedding failure: apologise, don't crash the turn
            log.warning("retrieval failed: %s: %s", type(exc).__name__, exc)
            reply = self._fixed(turn, language, "llm_unavailable", record=False)
            reply.error = type(exc).__name__
            return reply
        confidence = float(docs[0].metadata.get("score", 0.0)) if docs else 0.0
        relevant = [d for d in docs if d.metadata.get("score", 0.0) >= self.min_confidence]
        relevant = relevant[: self.max_context_entries]
        if not relevant:
            log.info("no entry above %.2f (best %.3f): answering 'I don't know'",
                     self.min_confidence, confidence)
            return self._fixed(turn, language, "no_answer", confidence=confidence)

        citations = [_citation(n, d) for n, d in enumerate(relevant, start=1)]
        inputs = {
            "entries": format_entries(relevant),
            "question": question,
            "language_name": language_name(language),
            "history": [
                HumanMessage(m.text) if m.role == "human" else AIMessage(m.text)
                for m in history[-self.history_messages:]
            ],
        }
        reply = Reply(language=language, confidence=confidence, citations=citations, grounded=True)
        reply._tokens = self._generate(inputs, reply)
        reply._on_done = lambda r: self._remember(turn, r)
        return reply

    def _generate(self, inputs: dict, reply: Reply) -> Iterator[str]:
        try:
            yield from self.chain.stream(inputs)
        except Exception as exc:  # any transport/server failure must still give an answer
            log.warning("LLM call failed: %s: %s", type(exc).__name__, exc)
            reply.error = type(exc).__name__
            reply.grounded = False
            reply.citations = []
            fallback = message("llm_unavailable", reply.language)
            if reply.text:
                fallback = "\n\n" + fallback
            yield fallback
            return
        used = {int(n) for n in _CITATION_MARK.findall(reply.text)}
        cited = [c for c in reply.citations if c.number in used]
        best = max(c.rank_score for c in reply.citations)
        reply.citations = cited or [c for c in reply.citations
                                    if c.rank_score >= best - CITATION_MARGIN]

    def _fixed(self, turn: Turn, language: str, key: str, *, confidence: float = 0.0,
               record: bool = True) -> Reply:
        text = message(key, language)
        reply = Reply(language=language, confidence=confidence, citations=[], grounded=False,
                      _tokens=iter([text]))
        if record:
            reply._on_done = lambda r: self._remember(turn, r)
        return reply

    def _remember(self, turn: Turn, reply: Reply) -> None:
        self.memory.append(
            turn.conversation_id,
            Message("human", turn.text.strip(), reply.language),
            Message("ai", reply.text, reply.language),
        )


def _citation(number: int, doc: Document) -> Citation:
    meta = doc.metadata
    return Citation(
        number=number,
        id=str(meta.get("entry_id") or doc.id or ""),
        title=str(meta.get("title", "")),
        url=str(meta.get("url", "")),
        source=str(meta.get("source", "")),
        score=float(meta.get("score", 0.0)),
        rank_score=float(meta.get("rank_score", meta.get("score", 0.0))),
    )
