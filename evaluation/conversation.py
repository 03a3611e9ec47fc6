"""Conversation evaluations behind ``linguadesk eval conversation``.

- ``language_set``: every question of a multilingual test set goes through the real engine
  (retrieval, the real LLM, the language gate) as the first turn of its own conversation; the
  reply's language is detected and compared with the question's.
- ``dstc11_track5``: history-aware retrieval on DSTC11 track 5 (validation). For each
  knowledge-seeking turn whose gold snippets include an FAQ, the FAQ snippets of all entities are
  searched with the last user turn alone, and with the engine's follow-up handling (cheap check,
  then the LLM rewrite), in the same run; recall@1/5 against the gold FAQ snippets. A third row
  concatenates the customer's turns, a rewrite-free reference.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.conversations import Message, SqliteConversationStore
from bot.reply import Status
from common.language import base_language, detect_language, reply_language_share, split_sentences
from evaluation.benchmarks import default_root
from evaluation.paths import LANGUAGE_SET, SHOP_FAQ, repository_path
from linguadesk.settings import Settings
from runtime import build_engine, build_rewriter, build_store

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.rewrite import QueryRewriter
    from evaluation.benchmarks import EvalSet
    from retrieval.vector_store import FaqStore

Progress = Callable[[str, int, int], None]

DSTC_NAME = "dstc11_track5"


class EvaluationError(ValueError):
    pass


# --- language match ------------------------------------------------------------------------


def load_language_set(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        questions = data["questions"]
        for q in questions:
            q["language"], q["text"]  # noqa: B018 - both fields are required
    except FileNotFoundError:
        raise EvaluationError(f"{path} does not exist. Pass --set with a test set file.") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise EvaluationError(
            f"{path} is not a test set ({type(exc).__name__}: {exc}). Expected "
            '{"questions": [{"id", "language", "text", "kind"}, …]}.'
        ) from None
    return questions


def _has_english_sentence(text: str) -> bool:
    for sentence in split_sentences(re.sub(r"\[\d+\]", "", text)):
        if len(sentence) >= 20:
            found = detect_language(sentence)
            if found.language == "en" and found.confidence >= 0.6:
                return True
    return False


def language_match(
    engine: Engine, questions: list[dict], *, progress: Progress | None = None
) -> dict:
    from bot.engine import Turn

    progress = progress or (lambda phase, done, total: None)
    rows = []
    for n, q in enumerate(questions):
        start = time.perf_counter()
        reply = engine.answer(
            Turn(q["text"], conversation_id=f"eval-{q.get('id', n)}", channel="eval")
        )
        text = reply.final()
        expected = base_language(q["language"])
        detected = detect_language(text).language
        share = reply_language_share(text, expected)
        english = expected != "en" and _has_english_sentence(text)
        rows.append(
            {
                "id": q.get("id", str(n)),
                "language": expected,
                "kind": q.get("kind", ""),
                "question": q["text"],
                "reply": text,
                "status": reply.status,
                "reply_language": reply.language,
                "detected": detected,
                "share": round(share, 3),
                "english": english,
                "match": detected == expected and share >= 0.75,
                "generated": reply.status in (Status.ANSWERED, Status.SMALL_TALK),
                "error": reply.error,
                "seconds": round(time.perf_counter() - start, 2),
                "citations": [c.title for c in reply.citations],
                "expected_entry": q.get("expected_entry"),
            }
        )
        progress("questions", n + 1, len(questions))
    return summarize_language_match(rows)


def summarize_language_match(rows: list[dict]) -> dict:
    by_language: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_language[row["language"]].append(row)

    def stats(items: list[dict]) -> dict:
        generated = [r for r in items if r["generated"]]
        faq = [r for r in items if r["kind"] == "faq"]
        return {
            "questions": len(items),
            "match": float(np.mean([r["match"] for r in items])) if items else 0.0,
            "generated": len(generated),
            "match_generated": (
                float(np.mean([r["match"] for r in generated])) if generated else None
            ),
            "english_leaks": sum(1 for r in items if r["language"] != "en" and r["english"]),
            "faq_answered": sum(1 for r in faq if r["status"] == "answered"),
            "faq_cited_expected": sum(1 for r in faq if r["expected_entry"] in r["citations"]),
            "faq": len(faq),
            "statuses": dict(Counter(r["status"] for r in items)),
            "p50_s": float(np.percentile([r["seconds"] for r in items], 50)) if items else None,
        }

    return {
        "benchmark": "language_set",
        "overall": stats(rows),
        "languages": {lang: stats(items) for lang, items in sorted(by_language.items())},
        "failures": [r for r in rows if not r["match"]],
        "rows": rows,
    }


# --- DSTC11 track 5: history-aware retrieval -------------------------------------------------


def _dstc_root(root: Path) -> Path:
    folder = root / DSTC_NAME
    for needed in ("knowledge.json", "val/logs.json", "val/labels.json"):
        if not (folder / needed).is_file():
            raise EvaluationError(
                f"{folder / needed} is missing. Point --data at the folder that holds "
                f"{DSTC_NAME}/ (see ../shared/benchmarks/README.md)."
            )
    return folder


def load_dstc(root: Path, limit: int | None = None) -> tuple[EvalSet, list[list[Message]]]:
    """(entries, turns): FAQ snippets of every entity, and the knowledge-seeking validation
    turns whose gold includes an FAQ snippet, spread evenly when limited."""
    from evaluation.benchmarks import EvalEntry, EvalQuery, EvalSet, _spread

    folder = _dstc_root(root)
    knowledge = json.loads((folder / "knowledge.json").read_text(encoding="utf-8"))
    entries = []
    for domain, entities in knowledge.items():
        for entity_id, entity in entities.items():
            name = " ".join(str(entity.get("name") or domain).split()).title()
            for doc_id, faq in (entity.get("faqs") or {}).items():
                question = f"{name}: {faq['question']}"
                entries.append(
                    EvalEntry(
                        f"{domain}:{entity_id}:faq:{doc_id}",
                        f"{question}\n{faq['answer']}",
                        question,
                    )
                )
    logs = json.loads((folder / "val" / "logs.json").read_text(encoding="utf-8"))
    labels = json.loads((folder / "val" / "labels.json").read_text(encoding="utf-8"))
    turns = []
    for log, label in zip(logs, labels):
        if not label.get("target"):
            continue
        gold = frozenset(
            f"{k['domain']}:{k['entity_id']}:faq:{k['doc_id']}"
            for k in label.get("knowledge", [])
            if k.get("doc_type") == "faq"
        )
        if not gold or not log or log[-1]["speaker"] != "U":
            continue
        history = [
            Message("human" if t["speaker"] == "U" else "ai", t["text"], "en", 0.0)
            for t in log[:-1]
        ]
        turns.append((EvalQuery(log[-1]["text"], "en", gold), history))
    turns = _spread(turns, limit)
    return EvalSet(DSTC_NAME, entries, [q for q, _ in turns]), [h for _, h in turns]


def dstc_rewrite(
    settings: Settings,
    root: Path,
    rewriter: QueryRewriter,
    *,
    limit: int | None = 300,
    progress: Progress | None = None,
    examples: int = 25,
) -> dict:
    from bot.rewrite import needs_rewrite
    from evaluation.retrieval import (
        DEPTH,
        SystemScores,
        build_index,
        first_gold_rank,
        scratch_settings,
    )
    from retrieval.hybrid import HybridSearch

    progress = progress or (lambda phase, done, total: None)
    evalset, histories = load_dstc(root, limit)
    with tempfile.TemporaryDirectory(prefix="linguadesk-eval-") as tmp:
        run_settings = scratch_settings(settings, Path(tmp), {"chroma.collection": "eval"})
        store = build_index(
            run_settings, evalset, progress, use_encoder=settings.retrieval.use_encoder
        )
        search = HybridSearch(
            store,
            candidates=settings.retrieval.candidates,
            lexical=settings.retrieval.lexical_search,
        )
        search.lexical_index()

        def ranks(query: str, gold: frozenset[str]) -> int:
            return first_gold_rank([h.document.id for h in search.search(query, DEPTH)], gold)

        systems: dict[str, list[int]] = {"last_turn": [], "rewrite": [], "concatenated": []}
        rewritten, rewrite_seconds = 0, []
        samples: list[dict] = []
        for n, (query, history) in enumerate(zip(evalset.queries, histories)):
            systems["last_turn"].append(ranks(query.text, query.gold))
            customer = " ".join(m.text for m in history if m.role == "human")
            systems["concatenated"].append(ranks(f"{customer} {query.text}", query.gold))
            standalone = query.text
            if needs_rewrite(query.text, history):
                start = time.perf_counter()
                standalone = rewriter.rewrite(query.text, history, "en")
                rewrite_seconds.append(time.perf_counter() - start)
                rewritten += 1
            systems["rewrite"].append(ranks(standalone, query.gold))
            if len(samples) < examples:
                samples.append(
                    {
                        "last_turn": query.text,
                        "rewrite": standalone,
                        "hit@5": systems["rewrite"][-1] < 5,
                        "last_turn_hit@5": systems["last_turn"][-1] < 5,
                    }
                )
            progress("turns", n + 1, len(evalset.queries))

    def summary(r: list[int]) -> dict:
        scores = SystemScores(ranks=r).summary()
        return {key: scores[key] for key in ("recall@1", "recall@5", "mrr@10")}

    report: dict = {
        "benchmark": DSTC_NAME,
        "split": "val",
        "turns": len(evalset.queries),
        "entries": len(evalset.entries),
        "systems": {name: summary(r) for name, r in systems.items()},
        "rewritten_turns": rewritten,
        "rewrite_p50_s": float(np.percentile(rewrite_seconds, 50)) if rewrite_seconds else None,
        "rewrite_p95_s": float(np.percentile(rewrite_seconds, 95)) if rewrite_seconds else None,
        "examples": samples,
    }
    report["gain_recall@5_points"] = 100 * (
        report["systems"]["rewrite"]["recall@5"] - report["systems"]["last_turn"]["recall@5"]
    )
    return report


def select_questions(questions: list[dict], languages: str | None, limit: int | None) -> list[dict]:
    """Only the given languages (comma-separated), and the first ``limit`` of each."""
    if languages:
        wanted = {x.strip() for x in languages.split(",")}
        questions = [q for q in questions if q["language"] in wanted]
    if limit:
        seen: Counter = Counter()
        kept = []
        for q in questions:
            seen[q["language"]] += 1
            if seen[q["language"]] <= limit:
                kept.append(q)
        questions = kept
    return questions


def eval_engine(
    settings: Settings, faq: Path, progress: Progress | None = None
) -> tuple[Engine, FaqStore, Path]:
    """(engine, store, folder): an engine over a throwaway store holding ``faq``, with
    in-memory conversations; delete the folder after."""
    from evaluation.retrieval import scratch_settings
    from knowledge.admin import KnowledgeBase

    tmp = Path(tempfile.mkdtemp(prefix="linguadesk-eval-"))
    run_settings = scratch_settings(
        settings, tmp, {"handoff.webhook_url": None, "handoff.slack_channel": None}
    )
    kb = KnowledgeBase(build_store(run_settings))
    report = kb.ingest([faq])
    if not report.ok:
        raise EvaluationError(f"could not load {faq}: {report}")
    return (
        build_engine(
            run_settings, store=kb.store, conversations=SqliteConversationStore(":memory:")
        ),
        kb.store,
        tmp,
    )


def run_eval(
    settings: Settings,
    benchmark: str,
    *,
    test_set: Path | None = None,
    faq: Path | None = None,
    data: Path | None = None,
    languages: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """``linguadesk eval conversation``: the report of ``language_set`` or ``dstc11_track5``;
    the repository's files, or the shared benchmarks folder, unless given."""
    if benchmark == "language_set":
        questions = load_language_set(test_set or repository_path(LANGUAGE_SET))
        questions = select_questions(questions, languages, limit)
        engine, _, scratch = eval_engine(settings, faq or repository_path(SHOP_FAQ))
        try:
            return language_match(engine, questions, progress=progress)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if benchmark == DSTC_NAME:
        return dstc_rewrite(
            settings,
            data or default_root(),
            build_rewriter(settings),
            limit=limit or 300,
            progress=progress,
        )
    raise EvaluationError(f"Unknown benchmark {benchmark!r}: use language_set or {DSTC_NAME}.")
