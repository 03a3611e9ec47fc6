"""The similarity gaps the calibrated relevance corrects for, measured on xquad_r's parallel
questions: median gold similarity of en->en minus that of X->en (cross-lingual) and of X->X
(same language, another language than English), for e5 and USE.

Usage: .venv/bin/python benchmarks/language_gaps.py [--limit N] [--json F]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from evaluation import benchmarks
from linguadesk.settings import get_settings
from retrieval.use_encoder import USE_LANGUAGES
from runtime import load_encoders


def gold_similarities(encode, queries: list[str], golds: list[str]) -> np.ndarray:
    q = np.asarray(encode(queries))
    g = np.asarray(encode(golds))
    return np.sum(q * g, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    root = benchmarks.default_root()
    embeddings, use = load_encoders(get_settings())
    encoders = {"e5": None, "use": use}
    results: dict[str, dict[str, dict[str, float]]] = {"e5": {}, "use": {}}

    def pairs(query_language: str, index_language: str) -> tuple[list[str], list[str]]:
        s = benchmarks.xquad_r(
            root, args.limit, query_languages=(query_language,), index_languages=(index_language,)
        )
        text = {e.id: e.text for e in s.entries}
        return [q.text for q in s.queries], [text[sorted(q.gold)[0]] for q in s.queries]

    for language in benchmarks.xquad_languages(root):
        same = pairs(language, language)
        cross = pairs(language, "en")
        for name in encoders:
            if name == "use" and (use is None or language not in USE_LANGUAGES):
                continue
            if name == "e5":

                def encode(texts, kind=""):
                    return (
                        embeddings.embed_queries(texts)
                        if kind == "q"
                        else embeddings.embed_documents(texts)
                    )

                sim_same = np.sum(
                    np.asarray(encode(same[0], "q")) * np.asarray(encode(same[1])), axis=1
                )
                sim_cross = np.sum(
                    np.asarray(encode(cross[0], "q")) * np.asarray(encode(cross[1])), axis=1
                )
            else:
                sim_same = gold_similarities(use.encode, *same)
                sim_cross = gold_similarities(use.encode, *cross)
            results[name][language] = {
                "same": float(np.median(sim_same)),
                "to_en": float(np.median(sim_cross)),
            }
            print(name, language, results[name][language], flush=True)
    for name, rows in results.items():
        base = rows["en"]["same"]
        print(f"\n{name}: gap to en->en (median gold similarity)")
        print("lang  X->X   X->en")
        for language, r in rows.items():
            print(f"{language:4}  {base - r['same']:+.3f}  {base - r['to_en']:+.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
