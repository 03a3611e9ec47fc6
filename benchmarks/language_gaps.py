"""The similarity gaps the calibrated relevance corrects for, measured on xquad_r's parallel
questions: median gold similarity of en->en minus that of X->en (cross-lingual) and of X->X
(same language, another language than English), for e5 and USE.

Then the "does this entry answer it" decision within each language, against English on the
same (translated) questions: the gold sentence is a match, the sentence next to it (same
article, same topic: a hard negative) is not; precision and recall of relevance >= 0.5.

Usage: .venv/bin/python benchmarks/language_gaps.py [--limit N] [--json F]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from evaluation import benchmarks
from linguadesk.settings import get_settings
from retrieval.calibration import Relevance
from retrieval.use_encoder import USE_LANGUAGES
from runtime import load_encoders


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    root = benchmarks.default_root()
    embeddings, use = load_encoders(get_settings())
    relevance = Relevance()
    uncorrected = Relevance(same_e5={}, same_use={})  # the calibration before the X->X tables
    gaps: dict[str, dict[str, dict[str, float]]] = {"e5": {}, "use": {}}
    decisions: dict[str, dict[str, float]] = {}

    def pairs(query_language: str, index_language: str) -> tuple[list[str], list[str], list[str]]:
        """(questions, their gold sentences, the sentence after each gold one)."""
        s = benchmarks.xquad_r(
            root, args.limit, query_languages=(query_language,), index_languages=(index_language,)
        )
        text = {e.id: e.text for e in s.entries}
        golds = [sorted(q.gold)[0] for q in s.queries]

        def beside(gold: str) -> str:
            language, n = gold.split(":")
            return text.get(f"{language}:{int(n) + 1}") or text[f"{language}:{int(n) - 1}"]

        return [q.text for q in s.queries], [text[g] for g in golds], [beside(g) for g in golds]

    def similarities(name: str, queries: list[str], texts: list[str]) -> np.ndarray:
        if name == "e5":
            q = np.asarray(embeddings.embed_queries(queries))
            t = np.asarray(embeddings.embed_documents(texts))
        else:
            assert use is not None
            q, t = use.encode(queries), use.encode(texts)
        return np.sum(q * t, axis=1)

    for language in benchmarks.xquad_languages(root):
        questions, golds, besides = pairs(language, language)
        to_en_questions, to_en_golds, _ = pairs(language, "en")
        positive: dict[str, np.ndarray] = {}
        negative: dict[str, np.ndarray] = {}
        for name in ("e5", "use"):
            if name == "use" and (use is None or language not in USE_LANGUAGES):
                continue
            positive[name] = similarities(name, questions, golds)
            negative[name] = similarities(name, questions, besides)
            cross = similarities(name, to_en_questions, to_en_golds)
            gaps[name][language] = {
                "same": float(np.median(positive[name])),
                "to_en": float(np.median(cross)),
            }
        decisions[language] = {}
        for key, model in (("", relevance), ("uncorrected_", uncorrected)):
            probs, labels = [], []
            for scores, label in ((positive, True), (negative, False)):
                for i in range(len(questions)):
                    channels = {"entry": float(scores["e5"][i])}
                    if "use" in scores:
                        channels["use"] = float(scores["use"][i])
                    probs.append(model(channels, language, language, 1.0))
                    labels.append(label)
            predicted, actual = np.array(probs) >= 0.5, np.array(labels)
            tp = int(np.sum(predicted & actual))
            decisions[language][f"{key}precision"] = tp / max(1, int(np.sum(predicted)))
            decisions[language][f"{key}recall"] = tp / max(1, int(np.sum(actual)))
        print(language, gaps["e5"][language], decisions[language], flush=True)

    for name, rows in gaps.items():
        base = rows["en"]["same"]
        print(f"\n{name}: gap to en->en (median gold similarity)")
        print("lang  X->X    X->en")
        for language, r in rows.items():
            print(f"{language:4}  {base - r['same']:+.3f}  {base - r['to_en']:+.3f}")
    print("\nrelevance >= 0.5 within each language (gold sentence vs. the one beside it)")
    print("lang  precision  recall   (without the X->X correction: precision  recall)")
    for language, d in decisions.items():
        print(
            f"{language:4}  {d['precision']:.3f}      {d['recall']:.3f}    "
            f"{d['uncorrected_precision']:.3f}      {d['uncorrected_recall']:.3f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gaps": gaps, "decisions": decisions}, f, indent=2)


if __name__ == "__main__":
    main()
