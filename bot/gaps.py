"""Coverage gaps: the questions the FAQ did not answer, grouped by meaning across languages.

Each turn that went wrong is kept (:class:`GapLog`): answered "I don't know", declined as off
topic, handed to a person, rated 👎, or answered with the entry's own text because the drafts
failed the checks. :func:`mine` groups them by meaning, whatever the language. Distinct
questions are embedded with the multilingual USE encoder, which puts the same question in
different languages close together (e5-small keeps them apart by language). HDBSCAN then
groups them, with no distance threshold to tune. :func:`draft` has the LLM write an FAQ entry
for a group. That entry is a draft whose facts the team checks before approving it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable

from common.hits import Hit
from common.language import base_language, language_name

from .json_lines import JsonLines
from .prompts import as_data
from .reply import Reply, Status

if TYPE_CHECKING:
    from .team_chat import MessageTranslator

log = logging.getLogger(__name__)

APPROVED_SOURCE = "gaps:approved"  # where approved drafts go in the FAQ
REASONS = ("no_answer", "off_topic", "handoff", "thumbs_down", "fallback")
REDIS_KEY = "linguadesk:gaps"
KEEP = 20_000
REPRESENTATIVES = 3

DRAFT_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "You help an online shop's support team write a new FAQ entry. Customers asked the "
            "questions between <questions> tags, and the FAQ had no answer. Write a short "
            "answer in {language} for the FAQ question given. You do not know the shop's "
            "policy: wherever a fact is needed (a yes or no, a price, a number of days, a "
            "link), write a placeholder in square brackets, such as [yes/no] or [price], for "
            "the team to fill in. Output only the answer.",
        ),
        (
            "human",
            "<questions>\n{questions}\n</questions>\nFAQ question: {question}\nAnswer in "
            "{language}:",
        ),
    ]
)
PLACEHOLDER = re.compile(r"\[[^\]\n]{1,60}\]")


_PERIOD = re.compile(r"^\s*(\d{1,5})\s*([mhdw])\s*$", re.IGNORECASE)
_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def since_time(period: str, now: float | None = None) -> float:
    """``"7d"`` (or 30m, 24h, 2w; "" for all time) -> the Unix time that long ago."""
    if not period.strip():
        return 0.0
    found = _PERIOD.match(period)
    if not found:
        raise ValueError(f"{period!r} is no period; write it like 30m, 24h, 7d or 2w")
    seconds = int(found.group(1)) * _SECONDS[found.group(2).lower()]
    return (time.time() if now is None else now) - seconds


@dataclass(frozen=True)
class GapTurn:
    question: str
    reason: str  # one of REASONS
    language: str
    conversation: str = ""
    channel: str = ""
    relevance: float = 0.0  # of the best entry found
    at: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


def gap_reason(reply: Reply) -> str | None:
    """Why a finished reply is a gap, or None when it answered."""
    if reply.status == Status.NO_ANSWER:
        return "no_answer"
    if reply.status == Status.OFF_TOPIC:
        return "off_topic"
    if reply.status == Status.HANDOFF:
        return "handoff"
    if reply.status == Status.ANSWERED and reply.path == "fallback":
        return "fallback"
    return None


class GapLog:
    """One JSON line per gap turn in ``<data dir>/gaps.jsonl``, or a Redis list shared by all
    workers; the newest ``KEEP`` are kept in Redis."""

    def __init__(self, path: Path, redis_url: str | None = None) -> None:
        self.path = path
        self._log = JsonLines(path, redis_url, REDIS_KEY, KEEP)

    def record(self, turn: GapTurn) -> None:
        if not turn.question.strip():
            return
        try:
            self._log.add(turn)
        except Exception as exc:  # the customer's turn must not fail over its bookkeeping
            log.warning("a gap turn could not be kept: %s", type(exc).__name__)

    def read(self, *, since: float = 0.0, language: str = "") -> list[GapTurn]:
        return [
            turn
            for turn in self._log.records(GapTurn)
            if turn.at >= since and (not language or turn.language == base_language(language))
        ]


class HitSource(Protocol):
    def hits(self, query: str, k: int | None = None) -> list[Hit]: ...


@dataclass
class GapCluster:
    id: str
    turns: list[GapTurn]
    questions: list[str]  # the representatives, most central first
    translations: list[str] = field(default_factory=list)  # of ``questions``, admin language
    closest: dict | None = None  # {"title", "entry_id", "relevance"} of the nearest entry

    @property
    def size(self) -> int:
        return len(self.turns)

    @property
    def languages(self) -> Counter:
        return Counter(t.language for t in self.turns)

    @property
    def channels(self) -> Counter:
        return Counter(t.channel or "api" for t in self.turns)

    @property
    def reasons(self) -> Counter:
        return Counter(t.reason for t in self.turns)

    @property
    def distinct(self) -> int:
        return len({" ".join(t.question.casefold().split()) for t in self.turns})

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "size": self.size,
            "distinct_questions": self.distinct,
            "languages": dict(self.languages.most_common()),
            "channels": dict(self.channels.most_common()),
            "reasons": dict(self.reasons.most_common()),
            "questions": [
                {"text": q, "translation": t}
                for q, t in zip(
                    self.questions,
                    self.translations or [""] * len(self.questions),
                    strict=False,
                )
            ],
            "closest_entry": self.closest,
            "first_at": min(t.at for t in self.turns),
            "last_at": max(t.at for t in self.turns),
        }


def mine(
    turns: Sequence[GapTurn],
    encode: Callable[[list[str]], np.ndarray],
    *,
    hits: HitSource | None = None,
) -> list[GapCluster]:
    """Groups the turns by meaning; biggest first. A question asked once, alike to no other,
    is no group: nothing is drafted from a single question."""
    from sklearn.cluster import HDBSCAN

    by_text: dict[str, list[GapTurn]] = {}
    for turn in turns:
        by_text.setdefault(" ".join(turn.question.casefold().split()), []).append(turn)
    texts = list(by_text)
    if not texts:
        return []
    groups: list[list[int]]
    if len(texts) == 1:
        groups = [[0]]
        vectors = np.ones((1, 1))
    else:
        vectors = np.asarray(encode([by_text[t][0].question for t in texts]), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
        # Distinct questions only: repeats would make dense clumps of one wording each.
        labels = HDBSCAN(min_cluster_size=2, min_samples=1, copy=True).fit_predict(vectors)
        if (labels == -1).all():
            # HDBSCAN never returns the whole set as one group unless allowed: a short log
            # that is all one question would show no gap at all.
            labels = HDBSCAN(
                min_cluster_size=2, min_samples=1, allow_single_cluster=True, copy=True
            ).fit_predict(vectors)
        members: dict[int, list[int]] = {}
        for index, label in enumerate(labels):
            members.setdefault(int(label), []).append(index)
        groups = [v for k, v in members.items() if k != -1]
        groups += [[i] for i in members.get(-1, [])]  # alone, but maybe asked many times
    clusters = []
    for group in groups:
        cluster_turns = [t for i in group for t in by_text[texts[i]]]
        if len(cluster_turns) < 2:
            continue
        centre = vectors[group].mean(axis=0)
        order = sorted(group, key=lambda i: -float(vectors[i] @ centre))
        questions = [by_text[texts[i]][0].question for i in order[:REPRESENTATIVES]]
        cluster_id = hashlib.sha1(texts[order[0]].encode()).hexdigest()[:10]
        clusters.append(GapCluster(cluster_id, cluster_turns, questions))
    clusters.sort(key=lambda c: (-c.size, c.id))
    if hits is not None:
        for cluster in clusters:
            found = hits.hits(cluster.questions[0], 1)
            if found:
                meta = found[0].document.metadata
                cluster.closest = {
                    "title": str(meta.get("question") or meta.get("title") or ""),
                    "entry_id": found[0].entry_id,
                    "relevance": round(float(found[0].relevance), 3),
                }
    return clusters


def translate_questions(
    clusters: Sequence[GapCluster], translator: MessageTranslator, language: str
) -> None:
    """Each representative question in the admin's language (failed ones left as written)."""
    for cluster in clusters:
        by_language = {t.question: t.language for t in cluster.turns}
        cluster.translations = [
            translator.translate(q, by_language.get(q, language), language).text
            for q in cluster.questions
        ]


@dataclass(frozen=True)
class GapDraft:
    """An FAQ entry drafted for a cluster: the facts in [brackets] are the team's to fill."""

    question: str
    variants: list[str]
    answer: str
    language: str
    cluster: str

    def as_json(self) -> dict:
        return {**asdict(self), "status": "draft — check the facts"}


def draft(cluster: GapCluster, model: Runnable, language: str = "en") -> GapDraft:
    """An entry for the cluster in ``language``: its central question (translated when the
    cluster has translations), the others as variants, and an answer with placeholders."""
    if cluster.distinct < 2 and cluster.size < 2:
        raise ValueError("a single question is no gap to draft an entry for")
    questions = cluster.translations or cluster.questions
    question, variants = questions[0], [q for q in questions[1:] if q != questions[0]]
    answer = (DRAFT_PROMPT | model | StrOutputParser()).invoke(
        {
            "questions": "\n".join(as_data(q) for q in cluster.questions),
            "question": as_data(question),
            "language": language_name(language),
        }
    )
    answer = " ".join(answer.split()) or "[answer]"
    return GapDraft(question, variants, answer, language, cluster.id)


class GapMiner:
    """What the adapters use: the gaps of a period, with translations, and drafts."""

    def __init__(
        self,
        log: GapLog,
        encode: Callable[[list[str]], np.ndarray],
        hits: HitSource | None,
        translator: MessageTranslator | None = None,
        model: Callable[[], Runnable] | None = None,
    ) -> None:
        self.log, self._encode, self._hits = log, encode, hits
        self._translator, self._model = translator, model

    def clusters(
        self,
        *,
        since: float = 0.0,
        language: str = "",
        admin_language: str = "en",
        translate: bool = True,
    ) -> list[GapCluster]:
        found = mine(self.log.read(since=since, language=language), self._encode, hits=self._hits)
        if translate and self._translator is not None:
            translate_questions(found, self._translator, admin_language)
        return found

    def draft(
        self, cluster_id: str, *, since: float = 0.0, language: str = "", admin_language: str = "en"
    ) -> GapDraft:
        """Raises LookupError for a cluster that is not (or no longer) among the gaps."""
        if self._model is None:
            raise RuntimeError("drafting needs the LLM")
        found = mine(self.log.read(since=since, language=language), self._encode, hits=None)
        cluster = next((c for c in found if c.id == cluster_id), None)
        if cluster is None:
            raise LookupError(cluster_id)
        if self._translator is not None:
            translate_questions([cluster], self._translator, admin_language)
        return draft(cluster, self._model(), admin_language)


def approval_problems(question: str, answer: str) -> list[str]:
    """Why an edited draft cannot become an entry yet."""
    problems = []
    if not question.strip():
        problems.append("the question is empty")
    if not answer.strip():
        problems.append("the answer is empty")
    left = PLACEHOLDER.findall(answer)
    if left:
        problems.append(f"the answer still has placeholders to fill in: {', '.join(left[:5])}")
    return problems


def as_markdown(question: str, variants: Sequence[str], answer: str) -> str:
    """One approved entry in the Markdown format ``kb ingest`` reads."""
    also = [v.replace("|", "/").strip() for v in variants if v.strip()]
    lines = [f"## {' '.join(question.split())}"]
    if also:
        lines.append("Also asked: " + " | ".join(also))
    lines.append(answer.strip())
    return "\n".join(lines) + "\n"
