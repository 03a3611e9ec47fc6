"""The verified answer path: one entry, in the customer's language, every draft checked.

1. **One entry.** The best entry answers; facts of several entries are never blended. When
   another entry scores nearly as high, the customer is asked which one they mean.
2. **Translate first.** An entry in another language is translated into the customer's
   (:mod:`bot.entry_translation`, cached), and the answer is written from the translation.
3. **Verify before showing.** The draft streams a sentence at a time, and each piece is shown
   only once the text so far passes :func:`bot.answer_checks.check` (figures, markers, tags,
   dumps, echo, language, claims). A draft that fails before anything was shown is written
   again with the failure named; if that fails too, the customer gets the entry's own
   (translated) answer under a fixed localized phrase. A failed draft is never shown.
4. **The entry the model picks.** Of the first entry by rank and the relevant ones, the
   model names the one that answers the customer's question (fusion may rank another topic
   first, and a translated entry may outscore the one in the customer's own words).
5. **Decline only off topic.** The draft may answer "the entry does not say" only when no
   entry was picked and the best is not sure to be relevant: "Do you ship to Peru?" is
   answered by the list of countries, not by "I don't know".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from babel import Locale
from langchain_core.output_parsers import StrOutputParser

from common.hits import Hit
from common.language import language_name

from . import answer_checks
from .entry_translation import EntryTranslator, LocalizedEntry
from .llm import ModelFactory
from .meaning import answer_problems
from .messages import message
from .prompts import (
    DRAFT_ANSWER_RULE,
    DRAFT_PROMPT,
    DRAFT_UNCOVERED_RULE,
    NOT_COVERED_PATTERN,
    PICK_ENTRY_PROMPT,
    SAME_TOPIC_PROMPT,
    SAME_TOPIC_YES,
    as_data,
    pick_entry_articles,
    picked_article,
    register_for,
)
from .reply import Reply, Status, citation

log = logging.getLogger(__name__)

# Below this retrieval relevance the model may still say the entry does not answer.
SURE_RELEVANCE = 0.9
# A piece is judged (and shown) once it holds this many letters: "Sí." alone says too little.
JUDGE_LETTERS = 12
MAX_SENTENCES = 4
# The best entries the model chooses from: "which of these answers the customer's question?".
NEXT_TOPICS = 3
_MARKS = re.compile(r"\s?\[\d{1,2}\]")
_LEADING_TAG = re.compile(r"^\s*<\s*(?:entry|answer)\s*>\s*", re.IGNORECASE)
_TRAILING_TAG = re.compile(r"\s*<\s*/\s*(?:entry|answer)\s*>\s*$", re.IGNORECASE)
_FULL_WIDTH_ENDS = ("。", "！", "？", "、", "，")
_SENTENCE_END = re.compile(r"[.!?。！？؟](?=\s)|[。！？]|\n")


@dataclass(frozen=True)
class Question:
    """What the answer path needs of a turn."""

    text: str  # the customer's words
    language: str
    locale: Locale
    confidence: float  # the best entry's calibrated relevance
    history: list = field(default_factory=list)  # LangChain messages, oldest first
    entries: list = field(default_factory=list)  # for the legacy path: localized documents
    query: str = ""  # what was searched: a follow-up rewritten to stand alone
    # Below it, an entry is not relevant on its own: never offered in a clarifying question.
    min_relevance: float = 0.0


class VerifiedAnswerer:
    def __init__(
        self,
        model: ModelFactory,
        translator: EntryTranslator,
        can_hand_off: Callable[[], bool],
        *,
        clarify_margin: float = 0.05,
        sure_relevance: float = SURE_RELEVANCE,
    ) -> None:
        self.model = model
        self.translator = translator
        self.can_hand_off = can_hand_off
        self.clarify_margin = clarify_margin
        self.sure_relevance = sure_relevance

    # --- choosing the entry ------------------------------------------------------------------

    def choose(self, hits: list[Hit], min_relevance: float = 0.0) -> list[Hit]:
        """The best entry alone, or it and the runner-up when they are too close to tell apart
        and both relevant: a clarifying question never offers an entry that is not."""
        best = hits[0]
        close = [best]
        for hit in hits[1:2]:
            if (
                hit.entry_id != best.entry_id
                and best.score - hit.score < self.clarify_margin
                and min(best.relevance, hit.relevance) >= min_relevance
            ):
                close.append(hit)
        return close

    # --- the reply ---------------------------------------------------------------------------

    def tokens(self, question: Question, hits: list[Hit], reply: Reply) -> Iterator[str]:
        chosen = self.choose(hits, question.min_relevance)
        if len(chosen) > 1:
            yield from self._clarify(question, chosen, reply)
            return
        hit, may_decline = self._on_topic(question, hits, chosen[0])
        reply.citations = [citation(1, hit)]
        entry = self.translator.localized(hit.document, question.language, question.locale)
        translated = entry is not None
        if entry is not None:
            reply.translation = "cached" if entry.cached else "new" if entry.translated else "own"
        if entry is None:  # no translation passed its checks: draft across languages
            log.info("no verified translation of entry %s into %s", hit.entry_id, question.language)
            entry = self.translator.localized(hit.document, hit.language, question.locale)
            if entry is None:  # only a translation fails; the entry's own language cannot
                raise RuntimeError(
                    f"entry {hit.entry_id} could not be read in its own language {hit.language!r}"
                )
        reminder = ""
        for attempt in ("draft", "redraft"):
            reply.path = attempt
            shown = False
            problems: list[answer_checks.Problem] = []
            for kind, value in self._draft(question, entry, reminder, may_decline):
                if kind == "declined":
                    if shown:
                        yield "\n\n"
                    yield from self._declined(reply)
                    return
                if kind == "ok":
                    shown = True
                    yield value
                else:
                    problems = value
                    break
            if shown or not problems:
                if problems:
                    log.info("the answer stopped before a failing sentence: %s", problems[0])
                return
            log.info("draft rejected (%s): %s", attempt, "; ".join(map(str, problems[:3])))
            reminder = (
                f" Your previous answer was rejected: {problems[0].detail}. "
                f"Write it again from the entry."
            )
        reply.path = "fallback"
        if not translated or not entry.showable:
            yield from self._declined(reply)
            return
        yield message("fallback_intro", question.language) + "\n\n" + entry.answer

    def _on_topic(self, question: Question, hits: list[Hit], best: Hit) -> tuple[Hit, bool]:
        """The entry to answer from, and whether the draft may still say it does not answer.
        Listed for the model: the first by rank, then the relevant ones. Relevance says
        whether some entry answers, not which: a translated entry can outscore the one in the
        customer's own words ("¿Hacen envíos a Canarias?" first by rank at 0.12, under "How
        long does delivery take within the EU?" at 0.90). The one the model picks as answering
        the customer's question answers, even when fusion ranked another topic first ("Kann
        ich per Nachnahme bezahlen?" to "Can I pay in instalments?" before "Which payment
        methods do you accept?"); it may not be called uncovered. When the model picks none,
        the first relevant entry answers, and may be called uncovered unless it is sure."""
        relevant = [h for h in hits if h.relevance >= question.min_relevance] or [best]
        candidates = [best]
        for hit in relevant:
            if len(candidates) == NEXT_TOPICS:
                break
            # An entry without a question cannot be listed; the others still can.
            if all(hit.entry_id != c.entry_id for c in candidates) and _question_of(hit).strip():
                candidates.append(hit)
        first = relevant[0]
        if len(candidates) == 1:
            if first.relevance >= self.sure_relevance:
                return first, False
            return first, not self._same_topic(question, _question_of(first))
        picked = self._pick(question, candidates)
        if picked is not None:
            return picked, False
        return first, first.relevance < self.sure_relevance

    def _pick(self, question: Question, candidates: list[Hit]) -> Hit | None:
        """The candidate the model says answers the question; None for none, or a reply
        that is no number of the list."""
        titles = [" ".join(_question_of(hit).split())[:300] for hit in candidates]
        if not all(titles):
            return None
        # A failing LLM fails the turn here: the draft would wait on it a second time.
        verdict = (PICK_ENTRY_PROMPT | self.model("rewrite") | StrOutputParser()).invoke(
            {
                "question": as_data(" ".join((question.query or question.text).split())[:500]),
                "articles": as_data(pick_entry_articles(titles)),
            }
        )
        number = picked_article(verdict, len(candidates))
        if number is None:
            log.info("the entry choice was not a number of the list: %r", verdict[:40])
            return None
        log.info("the model chose entry %d of %d: %s", number, len(candidates), titles)
        return candidates[number - 1] if number else None

    def _same_topic(self, question: Question, title: str) -> bool:
        """Whether the entry's question is the customer's, so that the entry answers it even
        with a "no" or a list; False without a title."""
        if not title.strip():
            return False
        verdict = (SAME_TOPIC_PROMPT | self.model("rewrite") | StrOutputParser()).invoke(
            {
                # "Can I return it?" is no question an entry's can be; its rewrite is
                "question": as_data(" ".join((question.query or question.text).split())[:500]),
                "title": as_data(" ".join(title.split())[:300]),
            }
        )
        same = SAME_TOPIC_YES.match(verdict) is not None
        log.info("the entry's question %s the customer's", "is" if same else "is not")
        return same

    def _draft(
        self, question: Question, entry: LocalizedEntry, reminder: str, may_decline: bool
    ) -> Iterator[tuple[str, Any]]:
        """("ok", piece) for each piece that passed, then ("bad", problems) or
        ("declined", None): the second item is a ``str``, a ``list[Problem]`` or None.
        ``may_decline``: the model may say that the entry does not answer the question."""
        stream = (DRAFT_PROMPT | self.model("answer") | StrOutputParser()).stream(
            {
                "entry": as_data(entry.text),
                "question": as_data(question.text),
                "language_name": language_name(question.language),
                "register": register_for(question.language),
                "uncovered_rule": DRAFT_UNCOVERED_RULE if may_decline else DRAFT_ANSWER_RULE,
                "reminder": reminder,
                "history": question.history[-2:],
            }
        )
        shown, pending, buffer, sentences = "", "", "", 0

        def judge(piece: str) -> tuple[str, Any]:
            if NOT_COVERED_PATTERN.search(piece):
                # Also after an apology already shown: the customer gets "I don't know".
                return (
                    ("declined", None)
                    if may_decline
                    else (
                        "bad",
                        [
                            answer_checks.Problem(
                                "clean", "the entry answers this question: answer it"
                            )
                        ],
                    )
                )
            verdict = answer_checks.check(
                _unmarked(shown + piece),
                language=question.language,
                sources=entry.sources,
                # A half-translated entry's leftover words ("We accept") are no names.
                language_sources=None if entry.showable else [entry.original],
                question=question.text,
                source_languages=(
                    (question.language if entry.translated else entry.language),
                    entry.language,
                ),
            )
            if not verdict.ok:
                return "bad", verdict.problems
            off = unrelated(_unmarked(shown + piece))
            return ("bad", off) if off else ("ok", piece)

        def unrelated(text: str) -> list[answer_checks.Problem]:
            """Problems when the draft says nothing of the entry in any of its languages: a
            refusal ("Üzgünüm, bu konuda yardımcı olamam") passes every other check."""
            languages = [question.language if entry.translated else entry.language, entry.language]
            return answer_problems(
                self.translator.encode, text, list(zip(entry.sources, languages)), question.language
            )

        try:
            for token in stream:
                buffer += token
                if not shown and not pending.strip():  # "<answer>" echoed before the text
                    buffer = _LEADING_TAG.sub("", pending + buffer)
                    pending = ""
                cut = _last_sentence_end(buffer)
                if not cut:
                    continue
                pending, buffer = _TRAILING_TAG.sub("", pending + buffer[:cut]), buffer[cut:]
                sentences += 1
                if sum(ch.isalpha() for ch in pending) < JUDGE_LETTERS or _leads_in(pending):
                    continue
                kind, value = judge(pending)
                if kind != "ok":
                    yield kind, value
                    return
                yield "ok", _unmarked(pending) if not shown else _unmarked_inside(pending, shown)
                shown, pending = shown + pending, ""
                if sentences >= MAX_SENTENCES:
                    return
            rest = _TRAILING_TAG.sub("", pending + buffer).rstrip()
            if shown and _leads_in(rest):  # "…as follows:" with nothing after it
                return
            if rest.strip() and not _leads_in(rest):
                kind, value = judge(rest)
                if kind == "ok":
                    value = _unmarked(rest) if not shown else _unmarked_inside(rest, shown)
                yield kind, value
            elif not shown:
                yield "bad", [answer_checks.Problem("clean", "the answer was empty")]
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()  # stop generating what will not be shown

    def _declined(self, reply: Reply) -> Iterator[str]:
        log.info("the entry does not answer the question")
        reply.status = Status.NO_ANSWER
        reply.path = "declined"
        reply.grounded = False
        reply.citations = []
        reply.offer_handoff = self.can_hand_off()
        yield message("no_answer", reply.language)

    def _clarify(self, question: Question, hits: list[Hit], reply: Reply) -> Iterator[str]:
        titles = self.translator.titles([h.document for h in hits], question.language)
        if titles is None:  # titles we could not put in their language: answer from the best
            yield from self.tokens(question, hits[:1], reply)
            return
        reply.status = Status.CLARIFY
        reply.path = "clarify"
        reply.citations = [citation(n, h) for n, h in enumerate(hits, start=1)]
        yield message("clarify", question.language) + "\n" + "\n".join(f"- {t}" for t in titles)


def _question_of(hit: Hit) -> str:
    meta = hit.document.metadata
    return str(meta.get("question") or meta.get("title") or "")


def _unmarked(text: str) -> str:
    return _MARKS.sub("", text).strip()


def _unmarked_inside(text: str, shown: str) -> str:
    """A later piece keeps what separates it from the previous one (a space, a line break);
    none after a full-width stop ("…です。次に"), where Chinese and Japanese put no space."""
    stripped = _MARKS.sub("", text).rstrip()
    if stripped[:1].isspace() or shown.rstrip().endswith(_FULL_WIDTH_ENDS):
        return stripped
    return " " + stripped


def _leads_in(text: str) -> bool:
    """A piece that ends in a colon announces what follows; alone it says nothing."""
    return text.rstrip().endswith((":", "：", "﹕"))


def _last_sentence_end(text: str) -> int:
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    # Not inside a number ("€4.95") or right after "ca.": the next token decides.
    return ends[-1] if ends else 0
