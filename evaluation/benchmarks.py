"""Readers for the third-party retrieval benchmarks, following the protocols in
``../shared/benchmarks/README.md``. Files are read in place, never copied."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCHMARKS = ("xquad_r", "banking77", "arbanking77", "covid_faq_en")


def xquad_languages(root: Path) -> tuple[str, ...]:
    """The languages present: one ``<code>.json`` per language (upstream has 11; a held-out
    set in the same format may have others)."""
    folder = root / "xquad_r"
    return tuple(sorted(p.stem for p in folder.glob("*.json"))) if folder.is_dir() else ()


class BenchmarkError(ValueError):
    pass


@dataclass
class EvalEntry:
    id: str
    text: str  # what the store indexes as the entry (question + answer, or a sentence)
    question: str = ""
    variants: list[str] = field(default_factory=list)
    language: str = "en"


@dataclass
class EvalQuery:
    text: str
    language: str
    gold: frozenset[str]


@dataclass
class EvalSet:
    name: str
    entries: list[EvalEntry]
    queries: list[EvalQuery]
    # (query, entry id, is a match): labelled pairs for calibrating "no entry matches".
    pairs: list[tuple[str, str, bool]] = field(default_factory=list)
    # Questions the FAQ does not cover at all (for the "no match" decision).
    off_domain: list[str] = field(default_factory=list)
    attribution: str = ""


def default_root() -> Path:
    here = Path.cwd()
    for base in (here, *here.parents):
        candidate = base.parent / "shared" / "benchmarks"
        if candidate.is_dir():
            return candidate
    return here.parent / "shared" / "benchmarks"


def _need(path: Path) -> Path:
    if not path.is_file():
        raise BenchmarkError(
            f"{path} is missing. Point --data at the folder holding the benchmark folders "
            "(../shared/benchmarks from the project root)."
        )
    return path


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with _need(path).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _spread(rows: list, limit: int | None) -> list:
    """Every n-th row: the test files are sorted by intent, a prefix would cover a few."""
    if limit is None or limit >= len(rows):
        return rows
    if limit <= 0:
        return []
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def _banking_entries(root: Path) -> list[EvalEntry]:
    by_intent: dict[str, list[str]] = {}
    for row in _csv_rows(root / "banking77" / "train.csv"):
        by_intent.setdefault(row["category"], []).append(row["text"])
    entries = []
    for intent, questions in by_intent.items():
        name = intent.replace("_", " ")
        variants = questions[:10]
        entries.append(EvalEntry(intent, "\n".join([name, *variants]), name, variants))
    return entries


def banking77(root: Path, limit: int | None = None) -> EvalSet:
    rows = _spread(_csv_rows(root / "banking77" / "test.csv"), limit)
    queries = [EvalQuery(r["text"], "en", frozenset([r["category"]])) for r in rows]
    return EvalSet(
        "banking77",
        _banking_entries(root),
        queries,
        attribution="banking77: PolyAI-LDN/task-specific-datasets, CC BY 4.0",
    )


def arbanking77(root: Path, limit: int | None = None) -> EvalSet:
    names = {
        r["label_ar"].strip(): r["label_en"].strip().replace(" ", "_")
        for r in _csv_rows(root / "arbanking77" / "Banking77_intents.csv")
    }
    rows = _spread(_csv_rows(root / "arbanking77" / "Banking77_Arabized_MSA_test.csv"), limit)
    queries = []
    for row in rows:
        intent = names.get(row["label"].strip())
        if intent is None:
            raise BenchmarkError(
                f"arbanking77 label {row['label']!r} is not in Banking77_intents.csv: the files "
                "differ from upstream (SinaLab/ArBanking77); copy them again."
            )
        queries.append(EvalQuery(row["text"], "ar", frozenset([intent])))
    return EvalSet(
        "arbanking77",
        _banking_entries(root),
        queries,
        attribution="arbanking77: SinaLab/ArBanking77, CC BY-SA 4.0; "
        "index: banking77 (PolyAI-LDN), CC BY 4.0",
    )


def covid_faq_en(root: Path, limit: int | None = None) -> EvalSet:
    faq = _csv_rows(root / "covid_faq_en" / "faq_covidbert.csv")
    entries: list[EvalEntry] = []
    by_question: dict[str, set[str]] = {}
    for n, row in enumerate(faq):
        entry_id = f"covid-{n}"
        # A few questions appear twice (two sources); either copy is a right answer.
        by_question.setdefault(row["question"].strip(), set()).add(entry_id)
        entries.append(
            EvalEntry(
                entry_id,
                f"{row['question'].strip()}\n\n{row['answer'].strip()}",
                row["question"].strip(),
            )
        )
    queries, pairs = [], []
    for row in _csv_rows(root / "covid_faq_en" / "eval_question_similarity_en.csv"):
        gold = by_question.get(row["question_1"].strip())
        if gold is None:
            continue
        match = row["similar"].strip() == "1"
        pairs.append((row["question_2"], min(gold), match))
        if match:
            queries.append(EvalQuery(row["question_2"], "en", frozenset(gold)))
    # Banking questions are off-domain for a COVID FAQ: every one should be refused.
    off_domain_file = root / "banking77" / "test.csv"
    off_domain = (
        [r["text"] for r in _csv_rows(off_domain_file)][::10] if off_domain_file.is_file() else []
    )
    return EvalSet(
        "covid_faq_en",
        entries,
        _spread(queries, limit),
        pairs,
        off_domain,
        attribution="covid_faq_en: deepset-ai/COVID-QA, Apache-2.0 "
        "(answers from public-health sites)",
    )


def _xquad_file(root: Path, language: str) -> dict:
    with _need(root / "xquad_r" / f"{language}.json").open(encoding="utf-8") as f:
        return json.load(f)


def xquad_r(
    root: Path,
    limit: int | None = None,
    *,
    query_languages: tuple[str, ...] | None = None,
    index_languages: tuple[str, ...] | None = ("en",),
) -> EvalSet:
    """Candidates: the sentences of ``index_languages``; a hit is the sentence (in any
    indexed language) that holds the gold answer of the same question id."""
    available = xquad_languages(root)
    if not available:
        _need(root / "xquad_r" / "en.json")
    query_languages = query_languages or available
    index_languages = index_languages or available
    unknown = sorted((set(query_languages) | set(index_languages)) - set(available))
    if unknown:
        raise BenchmarkError(
            f"xquad_r has no language {', '.join(unknown)} in {root / 'xquad_r'}; "
            f"choose from {', '.join(available)}."
        )
    entries: list[EvalEntry] = []
    gold: dict[str, set[str]] = {}
    for language in index_languages:
        sentence_no = 0
        for article in _xquad_file(root, language)["data"]:
            for paragraph in article["paragraphs"]:
                first = sentence_no
                for sentence in paragraph["sentences"]:
                    entries.append(
                        EvalEntry(f"{language}:{sentence_no}", sentence, language=language)
                    )
                    sentence_no += 1
                for qa in paragraph["qas"]:
                    start = qa["answers"][0]["answer_start"]
                    inside = [
                        i for i, (b, e) in enumerate(paragraph["sentence_breaks"]) if b <= start < e
                    ]
                    if not inside:
                        raise BenchmarkError(
                            f"xquad_r/{language}.json: the answer of question {qa['id']} starts "
                            "outside every sentence; the file differs from upstream, copy it again."
                        )
                    gold.setdefault(qa["id"], set()).add(f"{language}:{first + inside[0]}")
    queries = []
    for language in query_languages:
        asked = [
            EvalQuery(qa["question"], language, frozenset(gold[qa["id"]]))
            for article in _xquad_file(root, language)["data"]
            for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]
        ]
        queries.extend(_spread(asked, limit))
    return EvalSet(
        "xquad_r",
        entries,
        queries,
        attribution="xquad_r: google-research-datasets/lareqa (XQuAD-R), CC BY-SA 4.0",
    )


def load(name: str, root: Path, limit: int | None = None, **options: Any) -> EvalSet:
    readers = {
        "banking77": banking77,
        "arbanking77": arbanking77,
        "covid_faq_en": covid_faq_en,
        "xquad_r": xquad_r,
    }
    if name not in readers:
        raise BenchmarkError(f"Unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}.")
    return readers[name](root, limit, **options)
