"""Hybrid FAQ search: dense e5 (entry text and every question variant), multilingual USE
for the languages it covers, and BM25, fused by standardized scores.

Each channel's scores are standardized over the union of candidates (a channel that
did not return a candidate gives it its lowest returned score), then summed with
per-channel weights. Standardizing keeps channels with different score ranges
comparable per query; BM25 is weighted by how much of the query the index vocabulary
knows, so a Spanish question over English entries is not steered by stray words.
The calibrated relevance (0..1) is computed from absolute similarities, not from the
fused rank score, because "no entry matches" is a property of the best score itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from langchain_core.documents import Document

from common.hits import Hit
from common.language import detect_language

from .calibration import Relevance
from .lexical import LexicalIndex
from .use_encoder import USE_LANGUAGES
from .vector_store import ChromaCollection, FaqStore, question_views, stored_id

LEXICAL_RECHECK_S = 2.0
MIN_LEXICAL_COVERAGE = 0.3


@dataclass(frozen=True)
class Weights:
    # e5 over the entry text and e5 over its questions share one unit of weight when an
    # entry has both; the others are relative to it (tuned on banking77 and xquad_r
    # together; a broad optimum: USE 0.4-0.75 and BM25 0.2-0.5 are within a point).
    entry: float = 1.0
    question: float = 1.0
    use: float = 0.55
    lexical: float = 0.3


@dataclass
class QueryVectors:
    """What a query costs to encode, done once (and in batches by the evaluator)."""

    language: str
    dense: list[float]
    use: list[float] | None = None
    language_confidence: float = 1.0


class Reranker(Protocol):
    """A cross-encoder (sentence-transformers' ``CrossEncoder``): one score per pair."""

    def predict(self, inputs: list[tuple[str, str]], /) -> Any: ...


# Per channel: chunk id -> {view language: best similarity}; "" is the entry's own views.
ByLanguage = dict[str, dict[str, dict[str, float]]]


def _note(
    found: dict[str, dict[str, float]], chunk_id: str, meta: dict | None, value: float
) -> None:
    """Keeps the best similarity of each language's views (translated views carry one)."""
    language = str((meta or {}).get("language") or "")
    best = found.setdefault(chunk_id, {})
    if value > best.get(language, -1.0):
        best[language] = value


def _standardize(values: np.ndarray) -> np.ndarray:
    std = values.std()
    if std < 1e-9:
        return np.zeros_like(values)
    return (values - values.mean()) / std


class HybridSearch:
    def __init__(
        self,
        store: FaqStore,
        *,
        candidates: int = 40,
        lexical: bool = True,
        weights: Weights | None = None,
        relevance: Relevance | None = None,
        reranker: Reranker | None = None,
        rerank_top: int = 20,
    ) -> None:
        self.store = store
        self.candidates = candidates
        self.use_lexical = lexical
        self.weights = weights or Weights()
        self.relevance = relevance or Relevance()
        self.reranker = reranker
        self.rerank_top = rerank_top
        self._lexical: LexicalIndex | None = None
        self._revision: str | None = None
        self._checked_at = 0.0
        self._seen_writes = -1
        self._building = False
        self._lock = threading.Lock()

    # -- encoding --------------------------------------------------------------
    def encode(self, queries: list[str]) -> list[QueryVectors]:
        if not queries:
            return []
        detections = [detect_language(q) for q in queries]
        languages = [d.language for d in detections]
        embeddings = self.store.embeddings
        dense = (
            embeddings.embed_queries(queries)
            if len(queries) > 1
            else [embeddings.embed_query(queries[0])]
        )
        use: list[list[float] | None] = [None] * len(queries)
        if self.store.use_views is not None:
            wanted = [i for i, lang in enumerate(languages) if lang in USE_LANGUAGES]
            if wanted:
                vectors = self.store.encode_use([queries[i] for i in wanted])
                for i, vector in zip(wanted, vectors):
                    use[i] = vector.tolist()
        return [
            QueryVectors(det.language, d, s, det.confidence)
            for det, d, s in zip(detections, dense, use)
        ]

    # -- lexical index -----------------------------------------------------------
    def lexical_index(self) -> LexicalIndex:
        """Rebuilt when the store's revision changes (checked at most every few seconds,
        at once after a write by this process). Queries keep using the old index while a
        new one is built."""
        with self._lock:
            now = time.monotonic()
            fresh = (
                self._lexical is not None
                and self._seen_writes == self.store.writes
                and now - self._checked_at < LEXICAL_RECHECK_S
            )
            if fresh or self._building:
                return self._lexical if self._lexical is not None else self._build_and_swap()
            self._checked_at = now
            self._seen_writes = self.store.writes
            revision = self.store.revision()
            if self._lexical is not None and revision == self._revision:
                return self._lexical
            self._building = True
        try:
            return self._build_and_swap(revision)
        finally:
            self._building = False

    def _build_and_swap(self, revision: str | None = None) -> LexicalIndex:
        ids: list[str] = []
        texts: list[str] = []
        localized = self.store.translation_views()
        for doc in self.store.documents():
            chunk_id = stored_id(doc)
            ids.append(chunk_id)
            views = question_views(doc.metadata)[1:]
            if int(doc.metadata.get("chunk_index", 0) or 0) == 0:
                fresh = str(doc.metadata.get("content_hash", ""))
                views += [
                    t
                    for made_from, ts in localized.get(chunk_id, [])
                    if made_from == fresh
                    for t in ts
                ]
            texts.append("\n".join([doc.page_content, *views]))
        index = LexicalIndex(ids, texts)
        self._lexical = index
        if revision is not None:
            self._revision = revision
        return index

    # -- search --------------------------------------------------------------
    def search(self, query: str, k: int) -> list[Hit]:
        return self.search_encoded(query, self.encode([query])[0], k)

    @staticmethod
    def _dense(
        collection: ChromaCollection | None,
        vector: list[float] | None,
        n: int,
        by_language: dict[str, dict[str, float]] | None = None,
    ) -> dict[str, float]:
        """Best similarity per entry over the views returned (ids ``<chunk id>~...``);
        ``by_language`` gets the best per view language, for the calibration."""
        if collection is None or vector is None:
            return {}
        # Chroma returns fewer results when it holds fewer: no count() round trip needed.
        include = ["distances", "metadatas"] if by_language is not None else ["distances"]
        got = collection.query(query_embeddings=[vector], n_results=n, include=include)
        metas = got["metadatas"][0] if by_language is not None else None
        best: dict[str, float] = {}
        for i, (view_id, distance) in enumerate(zip(got["ids"][0], got["distances"][0])):
            chunk_id = view_id.split("~", 1)[0]
            similarity = 1.0 - float(distance)
            best[chunk_id] = max(best.get(chunk_id, -1.0), similarity)
            if by_language is not None and metas is not None:
                _note(by_language, chunk_id, metas[i], similarity)
        return best

    def search_encoded(self, query: str, vectors: QueryVectors, k: int) -> list[Hit]:
        n = self.candidates
        # The best view of each language per entry: the calibration's cross-lingual
        # correction applies to views in another language than the query only.
        view_languages: ByLanguage = {"question": {}, "use": {}}
        channels: dict[str, dict[str, float]] = {
            "entry": self._dense(self.store.collection, vectors.dense, n),
            "question": self._dense(
                self.store.views, vectors.dense, 3 * n, view_languages["question"]
            ),
        }
        share = 0.5 if channels["entry"] and channels["question"] else 1.0
        weights = {"entry": share * self.weights.entry, "question": share * self.weights.question}
        if self.store.use_views is not None and vectors.use is not None:
            channels["use"] = self._dense(
                self.store.use_views, vectors.use, 3 * n, view_languages["use"]
            )
            weights["use"] = self.weights.use
        if self.use_lexical:
            scores, coverage = self.lexical_index().search(query, n)
            # A few shared names or numbers in a foreign-language query are not lexical evidence.
            if scores and coverage >= MIN_LEXICAL_COVERAGE:
                channels["lexical"] = scores
                weights["lexical"] = self.weights.lexical * coverage**2
        candidates = sorted(set().union(*channels.values()))
        if not candidates:
            return []

        fused = np.zeros(len(candidates))
        table: dict[str, np.ndarray] = {}
        for name, scores in channels.items():
            if not scores:
                continue
            floor = 0.0 if name == "lexical" else min(scores.values())
            column = np.array([scores.get(c, floor) for c in candidates])
            table[name] = column
            fused += weights[name] * _standardize(column)

        order = np.argsort(-fused)[: max(k, self.rerank_top if self.reranker else k)]
        chosen = [candidates[i] for i in order]
        docs = list(self.store.documents(chosen))
        position = {c: i for i, c in enumerate(candidates)}
        dense = {name: dict(scores) for name, scores in channels.items() if name != "lexical"}
        self._fill_missing(dense, docs, vectors, view_languages)
        hits = []
        for doc in docs:
            chunk_id = stored_id(doc)
            i = position[chunk_id]
            scores = {name: float(col[i]) for name, col in table.items()}
            # Relevance from true similarities, not the floor a channel gave a missing candidate.
            scores.update(
                {name: values[chunk_id] for name, values in dense.items() if chunk_id in values}
            )
            relevance = self.relevance(
                scores,
                vectors.language,
                str(doc.metadata.get("language", "")),
                vectors.language_confidence,
                {
                    name: found[chunk_id]
                    for name, found in view_languages.items()
                    if chunk_id in found
                },
            )
            hits.append(Hit(doc, float(fused[i]), relevance, scores))
        if self.reranker is not None and hits:
            hits = self._rerank(query, hits)
        return hits[:k]

    def _fill_missing(
        self,
        dense: dict[str, dict[str, float]],
        docs: list[Document],
        vectors: QueryVectors,
        view_languages: ByLanguage | None = None,
    ) -> None:
        """Exact dense similarities for the returned entries a channel did not return."""
        sides = [
            ("entry", self.store.collection, vectors.dense),
            ("question", self.store.views, vectors.dense),
            ("use", self.store.use_views, vectors.use),
        ]
        for name, collection, vector in sides:
            if name not in dense or collection is None or vector is None:
                continue
            missing = [stored_id(d) for d in docs if stored_id(d) not in dense[name]]
            if not missing:
                continue
            query = np.asarray(vector)
            if name == "entry":
                got = collection.get(ids=missing, include=["embeddings"])
                metas = [None] * len(got["ids"])
            else:  # every view of those entries: their questions, translations, (USE) text
                got = collection.get(
                    where={"chunk_id": {"$in": missing}}, include=["embeddings", "metadatas"]
                )
                metas = got["metadatas"]
            found = view_languages.setdefault(name, {}) if view_languages is not None else {}
            for view_id, embedding, meta in zip(got["ids"], got["embeddings"], metas):
                chunk_id = view_id.split("~", 1)[0]
                similarity = float(np.dot(np.asarray(embedding), query))
                dense[name][chunk_id] = max(dense[name].get(chunk_id, -1.0), similarity)
                if name != "entry":
                    _note(found, chunk_id, meta, similarity)

    def channels_for(
        self, vectors: QueryVectors, chunk_id: str
    ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """The dense similarities between a query and one given entry, and each channel's
        best similarity per view language (for the calibration)."""
        dense: dict[str, dict[str, float]] = {"entry": {}, "question": {}, "use": {}}
        languages: ByLanguage = {}
        self._fill_missing(dense, list(self.store.documents([chunk_id])), vectors, languages)
        return (
            {name: values[chunk_id] for name, values in dense.items() if chunk_id in values},
            {name: found[chunk_id] for name, found in languages.items() if chunk_id in found},
        )

    def _rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        if self.reranker is None:  # searches call this only with a reranker
            return hits
        scores = self.reranker.predict([(query, h.document.page_content) for h in hits])
        for hit, score in zip(hits, scores):
            hit.channels["rerank"] = float(score)
        return sorted(hits, key=lambda h: -h.channels["rerank"])
