"""The earlier answer path, kept as the baseline of ``linguadesk eval answers --compare``
(``answer_path = "legacy"``): up to three entries in one prompt, answered across languages,
with the reply's language checked on its first letters and sentence by sentence."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable

from common.hits import Hit
from common.language import language_name, reply_language_share

from .answering import Question
from .llm import ModelFactory
from .messages import message
from .prompts import (
    ANSWER_ANYWAY_RULE,
    ANSWER_PROMPT,
    NOT_COVERED_PATTERN,
    REPAIR_PROMPT,
    UNCOVERED_RULE,
    as_data,
    format_entries,
    register_for,
)
from .reply import Reply, Status

log = logging.getLogger(__name__)

# When the model cites no entry number, cite the entries ranked nearly as high as the best
# one (fused retrieval score, in standard deviations); the rest were context, not the source.
CITATION_MARGIN = 0.5
# The reply's language is judged once this many letters have been generated (streaming waits
# for them), and again on the whole text. Below this share of letters in the right language
# the reply is regenerated, then translated.
LANGUAGE_GATE_LETTERS = 60
MIN_LANGUAGE_SHARE = 0.75
# Retrieval relevance above which the model's "not covered" is asked again (see prompts).
SURE_RELEVANCE = 0.9

_CITATION_MARK = re.compile(r"\[(\d{1,2})\]")


class LegacyAnswerer:
    def __init__(self, model: ModelFactory, can_hand_off: Callable[[], bool]) -> None:
        self.model = model
        self.can_hand_off = can_hand_off

    @property
    def chain(self) -> Runnable[dict[str, Any], str]:
        return ANSWER_PROMPT | self.model("answer") | StrOutputParser()

    def tokens(self, question: Question, docs: list[Hit], reply: Reply) -> Iterator[str]:
        reply.path = "legacy"
        inputs = {
            "entries": format_entries(question.entries),
            "question": as_data(question.text),
            "language_name": language_name(question.language),
            "register": register_for(question.language),
            "uncovered_rule": UNCOVERED_RULE,
            "reminder": "",
            "history": question.history,
        }
        yield from self._generate(inputs, reply)

    def _generate(self, inputs: dict, reply: Reply) -> Iterator[str]:
        language = reply.language
        head, rest = self._start(inputs)
        if NOT_COVERED_PATTERN.search(head) and reply.confidence >= SURE_RELEVANCE:
            inputs = {**inputs, "uncovered_rule": ANSWER_ANYWAY_RULE}
            head, rest = self._start(inputs)
        if _says_nothing(head):  # "[1]" alone: small models sometimes stop there
            log.info("the model replied without words; asking again")
            head, rest = self._start({**inputs, "reminder": " Answer in full sentences."})
        if NOT_COVERED_PATTERN.search(head) or _says_nothing(head):
            yield from self._not_covered(reply)
            return
        if reply_language_share(head, language) < MIN_LANGUAGE_SHARE:
            log.info("reply started in the wrong language; regenerating in %s", language)
            again, more = self._start(
                {
                    **inputs,
                    "reminder": (
                        f" Write ONLY in {language_name(language)}; do not use any other language."
                    ),
                }
            )
            if NOT_COVERED_PATTERN.search(again):
                yield from self._not_covered(reply)
                return
            if _says_nothing(again):  # "[1]" alone: keep the first try, translated below
                log.info("the regenerated reply had no words; translating the first one")
            else:
                head, rest = again, more
        yield from self._checked_sentences(head, rest, language)
        if not reply.text.strip():
            yield from self._not_covered(reply)
            return
        self._settle_citations(reply)

    def _checked_sentences(self, head: str, rest: Iterator[str], language: str) -> Iterator[str]:
        """Streams the reply a sentence at a time; a sentence in another language (an English
        sentence in a Spanish answer) is translated before it is sent."""
        buffer = head
        for token in rest:
            buffer += token
            cut = _last_sentence_end(buffer)
            if cut:
                yield self._repaired(buffer[:cut], language)
                buffer = buffer[cut:]
        if buffer.strip():
            yield self._repaired(buffer.rstrip(), language)

    def _repaired(self, chunk: str, language: str) -> str:
        chunk = NOT_COVERED_PATTERN.sub("", chunk)
        parts = []
        for sentence in _SENTENCE_SPLIT.split(chunk):
            if _PROMPT_TAG.search(sentence):  # talk about the prompt itself, not an answer
                log.info("a sentence of the reply quoted the prompt's tags; dropped")
                continue
            if sentence.strip() and reply_language_share(sentence, language) < 1.0:
                log.info("a sentence of the reply was not in %s; translating it", language)
                core = sentence.strip()
                start = sentence.index(core)
                sentence = (
                    sentence[:start] + self._repair(core, language) + sentence[start + len(core) :]
                )
            parts.append(sentence)
        return "".join(parts)

    def _start(self, inputs: dict) -> tuple[str, Iterator[str]]:
        """Starts a generation and reads enough of it to judge its language and marker."""
        return _take_letters(self.chain.stream(inputs), LANGUAGE_GATE_LETTERS)

    def _repair(self, draft: str, language: str) -> str:
        chain = REPAIR_PROMPT | self.model("answer") | StrOutputParser()
        return chain.invoke(
            {
                "answer": as_data(draft),
                "language_name": language_name(language),
                "register": register_for(language),
            }
        ).strip()

    def _not_covered(self, reply: Reply) -> Iterator[str]:
        log.info("the model found the entries do not answer the question")
        reply.status = Status.NO_ANSWER
        reply.grounded = False
        reply.citations = []
        reply.offer_handoff = self.can_hand_off()
        yield message("no_answer", reply.language)

    def _settle_citations(self, reply: Reply) -> None:
        used = {int(n) for n in _CITATION_MARK.findall(reply.text)}
        cited = [c for c in reply.citations if c.number in used]
        best = max(c.rank_score for c in reply.citations)
        reply.citations = cited or [
            c for c in reply.citations if c.rank_score >= best - CITATION_MARGIN
        ]


def _take_letters(stream: Iterator[str], letters: int) -> tuple[str, Iterator[str]]:
    """Reads the stream until it holds ``letters`` letters (or ends); returns what was read and
    the rest of the stream."""
    head = ""
    seen = 0
    iterator = iter(stream)
    for token in iterator:
        head += token
        seen += sum(ch.isalpha() for ch in token)
        if seen >= letters:
            break
    return head, iterator


def _says_nothing(text: str) -> bool:
    return sum(ch.isalpha() for ch in _CITATION_MARK.sub("", text)) < 2


_PROMPT_TAG = re.compile(r"</?(?:entries|entry|customer_message)\b")
# After sentence punctuation, but not inside a number ("€4.95", "1.500").
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?。！？\n])(?<!\d\.(?=\d))(?=\s|[^\s.!?。！？])")


def _last_sentence_end(text: str) -> int:
    """Where the last complete sentence of ``text`` ends (0: none yet)."""
    ends = [m.end() for m in re.finditer(r"[.!?。！？](?=\s)|[。！？]|\n", text)]
    return ends[-1] if ends else 0
