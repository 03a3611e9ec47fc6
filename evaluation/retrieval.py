"""Retrieval evaluation: the hybrid search against a naive dense baseline, in one run.

Both systems use the same store and the same embedding model. The baseline is what a
first RAG prototype does: LangChain's ``Chroma.similarity_search`` over one vector per
entry. Quality is measured on every query (query vectors encoded once, in batches, for
both systems); latency is measured on a sample of queries per language through each
system's full path (encode + search), alternating which system goes first.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.benchmarks import EvalSet
from knowledge.entries import Chunk
from linguadesk.settings import Settings
from retrieval.calibration import Relevance
from retrieval.hybrid import HybridSearch, QueryVectors, Reranker
from runtime import load_reranker

if TYPE_CHECKING:
    from retrieval.vector_store import FaqStore

DEPTH = 10  # ranks are looked up to here; MRR is MRR@10


@dataclass
class SystemScores:
    ranks: list[int] = field(default_factory=list)  # 0-based; DEPTH = not found
    latency_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        r = np.array(self.ranks)
        lat = np.array(self.latency_ms)
        return {
            "queries": int(len(r)),
            "recall@1": float(np.mean(r < 1)) if len(r) else 0.0,
            "recall@5": float(np.mean(r < 5)) if len(r) else 0.0,
            "mrr@10": float(np.mean(np.where(r < DEPTH, 1.0 / (r + 1), 0.0))) if len(r) else 0.0,
            "latency_p50_ms": float(np.percentile(lat, 50)) if self.latency_ms else None,
            "latency_p95_ms": float(np.percentile(lat, 95)) if self.latency_ms else None,
            "latency_samples": len(self.latency_ms),
        }


Progress = Callable[[str, int, int], None]  # (phase, done, total)


def scratch_settings(
    settings: Settings, data_dir: Path, changes: dict[str, Any] | None = None
) -> Settings:
    """The same models, a throwaway data dir and embedded Chroma: benchmarks never touch the
    configured store. ``changes`` as for :meth:`Settings.updated` (``"chroma.collection"``)."""
    return settings.updated(
        {
            "data_dir": data_dir,
            "model_dir": settings.models_dir,
            "chroma.url": None,
            **(changes or {}),
        }
    )


def first_gold_rank(ids: list[str | None], gold: frozenset[str]) -> int:
    for i, entry_id in enumerate(ids[:DEPTH]):
        if entry_id in gold:
            return i
    return DEPTH


def build_index(
    settings: Settings, evalset: EvalSet, progress: Progress, *, use_encoder: bool
) -> FaqStore:
    """A throwaway store in its own folder, written with the production store code (one
    chunk per benchmark entry: answers are not split, so both systems see whole entries)."""
    from retrieval.embeddings import load_embeddings
    from retrieval.use_encoder import load_use_encoder
    from retrieval.vector_store import FaqStore

    store = FaqStore(
        settings,
        load_embeddings(settings),
        use_encoder=load_use_encoder(settings) if use_encoder else None,
    )
    chunks = [
        Chunk(
            e.id,
            e.text,
            {
                "source": f"benchmark:{evalset.name}",
                "entry_id": e.id,
                "title": e.question or e.text[:80],
                "question": e.question,
                "variants": "\n".join(e.variants),
                "language": e.language,
                "content_hash": e.id,
                "chunk_index": 0,
                "chunk_count": 1,
            },
        )
        for e in evalset.entries
    ]
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        progress("index", done, len(chunks))

    store.upsert(chunks, step)
    return store


def evaluate(
    settings: Settings,
    evalset: EvalSet,
    *,
    progress: Progress | None = None,
    latency_sample: int = 100,
    use_encoder: bool = True,
    lexical: bool = True,
    reranker: Reranker | None = None,
    seed: int = 0,
    translated: dict[str, dict[str, list[str]]] | None = None,
) -> dict:
    """``translated``: {language: {entry id: lines}}; when given, a third system runs: the
    hybrid over an index that also holds those translated views (its own store)."""
    progress = progress or (lambda phase, done, total: None)
    with tempfile.TemporaryDirectory(prefix="linguadesk-eval-") as tmp:
        run_settings = scratch_settings(settings, Path(tmp), {"chroma.collection": "eval"})
        t0 = time.perf_counter()
        store = build_index(run_settings, evalset, progress, use_encoder=use_encoder)
        index_s = time.perf_counter() - t0
        search = HybridSearch(
            store, candidates=settings.retrieval.candidates, lexical=lexical, reranker=reranker
        )
        search.lexical_index()
        systems: dict[str, HybridSearch] = {"hybrid": search}
        if translated:
            grown = build_index(
                scratch_settings(settings, Path(tmp), {"chroma.collection": "eval_tr"}),
                evalset,
                progress,
                use_encoder=use_encoder,
            )
            add_translated_views(grown, evalset, translated, progress)
            systems["translated"] = HybridSearch(
                grown, candidates=settings.retrieval.candidates, lexical=lexical, reranker=reranker
            )
            systems["translated"].lexical_index()

        texts = [q.text for q in evalset.queries]
        vectors: list[QueryVectors] = []
        batch = 256
        for start in range(0, len(texts), batch):
            vectors.extend(search.encode(texts[start : start + batch]))
            progress("encode", min(start + batch, len(texts)), len(texts))

        scores: dict[str, dict[str, SystemScores]] = {
            name: defaultdict(SystemScores) for name in ("baseline", *systems)
        }
        baseline, hybrid = scores["baseline"], scores["hybrid"]
        detected: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for n, (query, vec) in enumerate(zip(evalset.queries, vectors)):
            docs = store.vectorstore.similarity_search_by_vector(vec.dense, k=DEPTH)
            baseline[query.language].ranks.append(first_gold_rank([d.id for d in docs], query.gold))
            for name, system in systems.items():
                hits = system.search_encoded(query.text, vec, DEPTH)
                scores[name][query.language].ranks.append(
                    first_gold_rank([h.document.id for h in hits], query.gold)
                )
            detected[query.language][vec.language] += 1
            if n % 200 == 0:
                progress("search", n + 1, len(texts))
        progress("search", len(texts), len(texts))

        rng = random.Random(seed)
        by_language: dict[str, list[str]] = defaultdict(list)
        for query in evalset.queries:
            by_language[query.language].append(query.text)
        sampled = [
            (lang, t)
            for lang, qs in by_language.items()
            for t in rng.sample(qs, min(latency_sample, len(qs)))
        ]
        for n, (language, text) in enumerate(sampled):
            runs: list[tuple[str, Callable[[], object]]] = [
                ("baseline", partial(store.vectorstore.similarity_search, text, k=DEPTH))
            ]
            runs += [
                (name, partial(system.search, text, DEPTH)) for name, system in systems.items()
            ]
            shift = n % len(runs)  # each system goes first in turn
            for name, run in runs[shift:] + runs[:shift]:
                t = time.perf_counter()
                run()
                elapsed = (time.perf_counter() - t) * 1000
                scores[name][language].latency_ms.append(elapsed)
            progress("latency", n + 1, len(sampled))

        report: dict[str, Any] = {
            "benchmark": evalset.name,
            "attribution": evalset.attribution,
            "entries": len(evalset.entries),
            "queries": len(evalset.queries),
            "index_seconds": round(index_s, 1),
            "embedding_model": settings.embeddings.model,
            "use_encoder": "muse-v3" if use_encoder else None,
            "lexical": lexical,
            "reranker": settings.retrieval.reranker_model if reranker is not None else None,
            "languages": {},
        }
        for language in sorted(hybrid):
            b = baseline[language].summary()
            row: dict[str, Any] = {"baseline": b, "detected_language": dict(detected[language])}
            for name in systems:
                h = scores[name][language].summary()
                row[name] = h
                row["ratio" if name == "hybrid" else f"ratio_{name}"] = {
                    key: (h[key] / b[key] if b[key] and h[key] is not None else None)
                    for key in (
                        "recall@1",
                        "recall@5",
                        "mrr@10",
                        "latency_p50_ms",
                        "latency_p95_ms",
                    )
                }
            report["languages"][language] = row
        if translated:
            report["translated_views"] = {lang: len(views) for lang, views in translated.items()}
        if evalset.pairs:
            report["no_match"] = no_match_report(search, evalset, vectors)
            if "translated" in systems:
                report["no_match_translated"] = no_match_report(
                    systems["translated"], evalset, vectors
                )
                report["no_match_translated"].pop("_features", None)
        return report


def add_translated_views(
    store: FaqStore,
    evalset: EvalSet,
    translated: dict[str, dict[str, list[str]]],
    progress: Progress,
) -> None:
    """The translations as the entries' own localized views (production's write path)."""
    from common.translation import Translation

    items = [
        Translation(entry_id, language, lines[0], "", tuple(lines[1:]), source_hash=entry_id)
        for language, views in translated.items()
        for entry_id, lines in views.items()
        if lines
    ]
    for start in range(0, len(items), 256):
        store.put_translations(items[start : start + 256])
        progress("translated views", min(start + 256, len(items)), len(items))


def _pr(predicted: np.ndarray, actual: np.ndarray) -> dict:
    tp = int(np.sum(predicted & actual))
    fp = int(np.sum(predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def no_match_report(
    search: HybridSearch,
    evalset: EvalSet,
    query_vectors: list[QueryVectors],
    threshold: float = 0.5,
) -> dict:
    """How well the calibrated relevance tells "this entry answers it" from "it does not".

    1. The set's labelled pairs (the protocol): relevance(query, that entry) >= threshold
       against the label. The relevance model was fitted on these same pairs, so this is
       an in-sample figure (5-fold cross-validated: see retrieval/calibration.py).
    2. End to end: matching queries should be answered (best hit above the threshold)
       by their gold entry; off-domain questions (``evalset.off_domain``: another
       benchmark's questions, which this FAQ does not cover) should all be refused.
    """
    relevance = search.relevance
    vectors = search.encode([q for q, _, _ in evalset.pairs])
    features, labels = [], []
    pair_languages = []
    for (_, entry_id, match), vec in zip(evalset.pairs, vectors):
        channels, view_languages = search.channels_for(vec, entry_id)
        features.append(channels)
        pair_languages.append(view_languages)
        labels.append(match)
    probs = np.array(
        [relevance(ch, "en", "en", 1.0, vl) for ch, vl in zip(features, pair_languages)]
    )
    pairs = _pr(probs >= threshold, np.array(labels, dtype=bool))

    answered_right = answered_wrong = 0
    for query, vec in zip(evalset.queries, query_vectors):
        hits = search.search_encoded(query.text, vec, 1)
        if hits and hits[0].relevance >= threshold:
            if hits[0].document.id in query.gold:
                answered_right += 1
            else:
                answered_wrong += 1
    refused_off_domain = 0
    if evalset.off_domain:
        for text, vec in zip(evalset.off_domain, search.encode(evalset.off_domain)):
            hits = search.search_encoded(text, vec, 1)
            refused_off_domain += not hits or hits[0].relevance < threshold
    answered = answered_right + answered_wrong
    return {
        "threshold": threshold,
        "pairs": pairs,
        "end_to_end": {
            "answerable": len(evalset.queries),
            "answered_correctly": answered_right,
            "answered_with_another_entry": answered_wrong,
            "precision": round(answered_right / answered, 3) if answered else 0.0,
            "recall": round(answered_right / len(evalset.queries), 3) if evalset.queries else 0.0,
            "off_domain": len(evalset.off_domain),
            "off_domain_refused": int(refused_off_domain),
        },
        "_features": [(Relevance.features(ch), bool(m)) for ch, m in zip(features, labels)],
    }


def run_eval(
    settings: Settings,
    evalset: EvalSet,
    *,
    latency_sample: int = 100,
    progress: Progress | None = None,
    translate_index: tuple[str, ...] = (),
    cached_only: bool = False,
) -> dict:
    """``linguadesk eval retrieval``: the search as configured (encoders, lexical, reranker)
    against the dense baseline; the no-match pairs' ``features`` kept for calibrating.
    ``translate_index``: also the hybrid over entries translated into these languages."""
    translated = None
    timing = None
    if translate_index:
        from .translated_index import translate_entries

        translated, timing = translate_entries(
            settings, evalset, translate_index, progress, cached_only=cached_only
        )
    report = evaluate(
        settings,
        evalset,
        progress=progress,
        latency_sample=latency_sample,
        use_encoder=settings.retrieval.use_encoder,
        lexical=settings.retrieval.lexical_search,
        reranker=load_reranker(settings),
        translated=translated,
    )
    if timing:
        report["translation"] = timing
    no_match = report.get("no_match", {})
    if "_features" in no_match:
        no_match["features"] = no_match.pop("_features")
    return report
