"""How well `linguadesk gaps` merges one question across languages: the seeded questions of
tests/data/gap_questions.json (8 questions, 2 wordings in each of 6 languages), clustered by
bot.gaps.mine with the USE encoder (what it uses) and with e5-small (the baseline), in the
same run.

    .venv/bin/python benchmarks/gap_clustering.py

Per question: the cluster holding most of its wordings, how many of the 6 languages it
spans, and its purity (the share of that cluster that is this question)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.gaps import GapTurn, mine
from linguadesk.settings import Settings
from retrieval.embeddings import load_embeddings
from retrieval.use_encoder import load_use_encoder

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    everything = json.loads((ROOT / "tests" / "data" / "gap_questions.json").read_text("utf-8"))
    names = list(everything)
    settings = Settings(model_dir=ROOT / ".data" / "models")
    use = load_use_encoder(settings)
    e5 = load_embeddings(settings)
    encoders = {
        "USE": use.encode,
        "e5-small": lambda texts: np.asarray(e5.embed_queries(texts)),
    }
    # All 8 topics, then each half alone: how a grouping holds with fewer neighbours.
    for subset in (names, names[:4], names[4:]):
        data = {t: everything[t] for t in subset}
        turns = [
            GapTurn(q, "no_answer", language, id=f"{topic}-{n}")
            for topic, by in data.items()
            for language, questions in by.items()
            for n, q in enumerate(questions)
        ]
        print(f"{len(turns)} questions, {len(data)} topics ({', '.join(subset)}), 6 languages")
        report(data, turns, encoders)


def report(data: dict, turns: list[GapTurn], encoders: dict) -> None:
    for name, encode in encoders.items():
        clusters = mine(turns, encode)
        spans, purities = [], []
        for topic in data:
            best = max(clusters, key=lambda c: sum(t.id.startswith(topic + "-") for t in c.turns))
            ours = [t for t in best.turns if t.id.startswith(topic + "-")]
            spans.append(len({t.language for t in ours}))
            purities.append(len(ours) / best.size)
        grouped = sum(c.size for c in clusters)
        majority = sum(
            max(sum(t.id.startswith(topic + "-") for t in c.turns) for topic in data)
            for c in clusters
        )
        merged = sum(s >= 4 and p >= 0.8 for s, p in zip(spans, purities, strict=True))
        print(
            f"{name:9} clusters {len(clusters):3}  questions in a cluster {grouped}/{len(turns)}  "
            f"languages per question's cluster {np.mean(spans):.1f}/6  purity "
            f"{majority / max(1, grouped):.2f}  merged (>=4 languages, purity>=0.8) "
            f"{merged}/{len(data)}"
        )


if __name__ == "__main__":
    main()
