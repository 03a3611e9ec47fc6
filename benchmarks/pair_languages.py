"""The "does this entry answer it" decision per language, on covid_faq_en's labelled pairs
translated by the LLM (issue 16, part 4).

A spread of the labelled pairs (half matches, half not) is taken. Each pair's customer
question and its entry's question are translated into every language with the production
translator: translate preset, figure and language checks, cached under the data dir by the
texts, the model and the language, and saved after every line, so that a stopped run resumes.

For each language the decision (relevance >= 0.5, as the engine takes it) is then measured
two ways:
- over the English index alone: the translated question against the English entry, cross-lingual;
- over the index with the entries' translated views, as ``kb translate`` writes them: mostly a
  same-language match.

English, on the same pairs and index, is the reference. The issue's bar: precision and recall
within 5 points of English in every language.

Usage: .venv/bin/python benchmarks/pair_languages.py [--languages de,es,ar,zh,ja]
    [--pairs 100] [--cached-only] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation import benchmarks
from evaluation.benchmarks import EvalEntry, EvalSet, _spread
from evaluation.retrieval import _pr, add_translated_views, build_index, scratch_settings
from evaluation.translated_index import translate_entries
from linguadesk.settings import get_settings
from retrieval.hybrid import HybridSearch
from runtime import ensure_llm, load_encoders

THRESHOLD = 0.5


def selected_pairs(evalset: EvalSet, n: int) -> list[tuple[str, str, bool]]:
    matches = [p for p in evalset.pairs if p[2]]
    others = [p for p in evalset.pairs if not p[2]]
    return _spread(matches, n // 2) + _spread(others, n - n // 2)


def decide(
    search: HybridSearch, pairs: list[tuple[str, str, bool]], entry_language: str = "en"
) -> dict:
    """Precision and recall of relevance >= THRESHOLD against the pairs' labels, with the
    query language as the engine detects it."""
    vectors = search.encode([query for query, _, _ in pairs])
    predicted: list[bool] = []
    actual: list[bool] = []
    languages: dict[str, int] = {}
    for (_, entry_id, match), vec in zip(pairs, vectors):
        channels, views = search.channels_for(vec, entry_id)
        relevance = search.relevance(
            channels, vec.language, entry_language, vec.language_confidence, views
        )
        predicted.append(relevance >= THRESHOLD)
        actual.append(match)
        languages[vec.language] = languages.get(vec.language, 0) + 1
    scores = _pr(np.array(predicted, dtype=bool), np.array(actual, dtype=bool))
    return {
        "pairs": len(pairs),
        "precision": scores["precision"],
        "recall": scores["recall"],
        "detected": languages,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--languages", default="de,es,ar,zh,ja")
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--cached-only", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    languages = tuple(x.strip() for x in args.languages.split(",") if x.strip())
    settings = get_settings()
    load_encoders(settings)
    if not args.cached_only:
        ensure_llm(settings)
    covid = benchmarks.covid_faq_en(benchmarks.default_root())
    pairs = selected_pairs(covid, args.pairs)
    questions = sorted({q for q, _, _ in pairs})
    by_id = {e.id: e for e in covid.entries}
    paired = sorted({entry_id for _, entry_id, _ in pairs})
    # What gets translated: the customers' questions, and the paired entries' questions
    # (their views; the answers are not matched against).
    texts = EvalSet(
        "covid_pairs",
        [EvalEntry(f"q{n}", q, q) for n, q in enumerate(questions)]
        + [EvalEntry(i, by_id[i].question, by_id[i].question) for i in paired],
        [],
    )

    def progress(phase: str, done: int, total: int) -> None:
        if done == total or done % 20 == 0:
            print(f"{phase}: {done}/{total}", flush=True)

    t0 = time.perf_counter()
    translated, timing = translate_entries(
        settings, texts, languages, progress, cached_only=args.cached_only
    )
    query_id = {q: f"q{n}" for n, q in enumerate(questions)}
    print(f"translations ready in {time.perf_counter() - t0:.0f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="linguadesk-pairs-") as tmp:
        plain_store = build_index(
            scratch_settings(settings, Path(tmp), {"chroma.collection": "plain"}),
            covid,
            progress,
            use_encoder=settings.retrieval.use_encoder,
        )
        grown_store = build_index(
            scratch_settings(settings, Path(tmp), {"chroma.collection": "grown"}),
            covid,
            progress,
            use_encoder=settings.retrieval.use_encoder,
        )
        views = {
            language: {i: lines for i, lines in done.items() if i in by_id}
            for language, done in translated.items()
        }
        add_translated_views(grown_store, covid, views, progress)
        plain = HybridSearch(plain_store, candidates=settings.retrieval.candidates)
        grown = HybridSearch(grown_store, candidates=settings.retrieval.candidates)

        report: dict = {
            "benchmark": "covid_faq_en labelled pairs",
            "command": " ".join([".venv/bin/python", *sys.argv]),
            "threshold": THRESHOLD,
            "translation": timing,
            "languages": {"en": {"index": decide(plain, pairs), "views": decide(grown, pairs)}},
        }
        for language in languages:
            done = translated.get(language, {})
            # A pair counts where both its question and its entry's views were translated.
            ok = [
                (done[query_id[q]][0], entry_id, match)
                for q, entry_id, match in pairs
                if done.get(query_id[q]) and done.get(entry_id)
            ]
            report["languages"][language] = {
                "index": decide(plain, ok),
                "views": decide(grown, ok),
                # English on the same pairs: a language that dropped pairs is compared fairly.
                "en_same_pairs": decide(
                    grown,
                    [(q, e, m) for (q, e, m) in pairs if done.get(query_id[q]) and done.get(e)],
                ),
            }

    en = report["languages"]["en"]["views"]
    print(
        f"\nrelevance >= {THRESHOLD} on {len(pairs)} labelled pairs "
        "(English index alone -> with translated views)"
    )
    print("lang  pairs  precision        recall           vs en (P / R, with views)")
    for language, row in report["languages"].items():
        i, v = row["index"], row["views"]
        ref = row.get("en_same_pairs", en)
        print(
            f"{language:4}  {v['pairs']:5}  {i['precision']:.3f} -> {v['precision']:.3f}   "
            f"{i['recall']:.3f} -> {v['recall']:.3f}   "
            f"{v['precision'] - ref['precision']:+.3f} / {v['recall'] - ref['recall']:+.3f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
