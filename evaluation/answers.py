"""``linguadesk eval answers``: is each reply something a shop could send?

Every question goes through the real engine (retrieval, the real LLM, the answer path), as
the first turn of its own conversation, or after its ``before`` messages for a follow-up. An
answerable question's reply is right only when all of these hold (:func:`judge`):

- *source*: an expected entry is cited;
- *faithful*: every figure of the reply is in the cited entries, after normalisation, and no
  currency or time unit appears that they lack (:func:`bot.answer_checks.figure_problems`);
- *clean*: no marker, tag, placeholder, bare ``[n]``, numbered dump or echo;
- *one language*: every sentence in the question's language (names and quoted labels from the
  entry allowed, and listed);
- *no false claim*: no country, weekday or asked-about name the entry lacks, and for yes/no
  questions, no opening yes/no against the expected polarity, and not a bare yes/no; and the
  reply must be about what the cited entry says (its USE vectors' cosine with the entry's at
  least ``bot.meaning.MEANING_FLOOR``, where USE knows both languages): a refusal citing the
  right entry is no answer. That measures the topic, not the truth of each statement.

A question that should not be answered (``uncovered``, ``off_topic``) is right when it is not.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot import answer_checks
from bot.locale_format import customer_locale, localize_figures
from bot.meaning import Encode, answer_problems
from bot.reply import Status
from common.language import base_language
from evaluation.benchmarks import covid_faq_en, default_root
from evaluation.conversation import EvaluationError, eval_engine, select_questions
from evaluation.paths import LANGUAGE_SET, SHOP_ANSWER_SET, SHOP_FAQ, repository_path
from linguadesk.settings import Settings

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.reply import Citation
    from retrieval.vector_store import FaqStore

Progress = Callable[[str, int, int], None]
NOT_ANSWERED = (Status.NO_ANSWER, Status.OFF_TOPIC)
CHECKS = ("source", "faithful", "clean", "one_language", "claim")


class AnswerSetError(EvaluationError):
    pass


def load_answer_set(path: Path) -> list[dict]:
    """The shop answer set's format, or the language set's (``expected_entry``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        questions = data["questions"]
        for n, q in enumerate(questions):
            q["language"], q["text"], q["kind"]  # noqa: B018 - required
            if "expected_entries" not in q:
                q["expected_entries"] = [q["expected_entry"]] if q.get("expected_entry") else []
            q.setdefault("id", str(n))
            q.setdefault("polarity", None)
            q.setdefault("before", [])
            q.setdefault("tags", [])
            if q["kind"] == "faq" and not q["expected_entries"]:
                raise KeyError(f"question {q['id']} is answerable but names no expected entry")
    except FileNotFoundError:
        raise AnswerSetError(
            f"{path} does not exist. Pass --set with an answer set file."
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise AnswerSetError(
            f"{path} is not an answer set ({type(exc).__name__}: {exc}). Expected "
            '{"questions": [{"id", "language", "kind", "text", "expected_entries", "polarity", '
            '"before"}, …]}.'
        ) from None
    return questions


def _entry_texts(store: FaqStore, citations: Iterable[Citation]) -> list[tuple[str, str]]:
    """(text, language) of each cited entry, all its chunks, as stored."""
    found = []
    for c in citations:
        ids = [chunk_id for chunk_id, _ in store.metadata_where({"entry_id": c.id})] or [c.id]
        docs = list(store.documents(ids))
        if docs:
            found.append(
                (
                    "\n".join(d.page_content for d in docs),
                    str(docs[0].metadata.get("language") or "en"),
                )
            )
    return found


def _bare(reply: str, language: str) -> bool:
    """A yes or no with nothing of the entry's fact after it."""
    rest = re.sub(r"^\W*\w+\W*", "", reply.strip(), count=1)
    letters = sum(ch.isalpha() for ch in rest)
    return letters < (6 if base_language(language) in ("zh", "ja", "ko") else 15)


def judge(
    question: dict,
    reply_text: str,
    status: str,
    cited: list[str],
    entries: list[tuple[str, str]],
    encode: Encode | None = None,
) -> dict:
    """Each check's pass/fail and the reasons; ``correct`` is all of them at once.
    ``encode``: cross-lingual sentence vectors (USE), to tell a refusal or a reply about
    something else from an answer that says what the entry says."""
    language = base_language(question["language"])
    result: dict = {"reasons": [], "allowed": []}
    if question["kind"] != "faq":
        result["correct"] = status in NOT_ANSWERED
        if not result["correct"]:
            result["reasons"].append(f"answered a question the FAQ does not cover ({status})")
        return result
    expected = set(question["expected_entries"])
    if status == Status.CLARIFY:
        # "Which of these do you mean?" listing the right entry: the customer picks it next.
        ok = bool(expected & set(cited))
        result.update({check: ok for check in CHECKS}, correct=ok, clarify=True)
        if not ok:
            result["reasons"].append(f"asked to choose between {cited}, none expected")
        return result
    if status != Status.ANSWERED:
        result.update({check: False for check in CHECKS}, correct=False)
        result["reasons"].append(f"not answered ({status})")
        return result
    # The entry as written, and with its figures in the customer's locale (as the bot shows
    # them: "2026-12-20" is "20 de diciembre de 2026" for a Spanish customer).
    sources = [text for text, _ in entries] + [
        localize_figures(text, customer_locale(language), entry_language)
        for text, entry_language in entries
    ]
    result["source"] = bool(expected & set(cited))
    if not result["source"]:
        result["reasons"].append(f"cited {cited or 'nothing'}, expected {sorted(expected)}")
    figures = answer_checks.figure_problems(reply_text, sources, question["text"])
    clean = answer_checks.clean_problems(reply_text, question["text"], sources)
    lang = answer_checks.language_problems(reply_text, language, sources)
    # Countries and weekdays the entries lack; not the bot's stricter rules (an asked-about
    # name repeated, "orders to Sydney arrive in 7 to 14 days", is a fair answer).
    claims = answer_checks.claim_problems(
        reply_text, language, sources, "", tuple(lang_ for _, lang_ in entries), opening_rule=False
    )
    polarity = question.get("polarity")
    opened = answer_checks.opening_polarity(reply_text, language)
    if polarity in ("yes", "no") and opened and opened != polarity:
        claims.append(
            answer_checks.Problem("claim", f"answered '{opened}', the FAQ says '{polarity}'")
        )
    if polarity and opened and _bare(reply_text, language):
        claims.append(answer_checks.Problem("claim", f"a bare '{opened}' without the fact"))
    # "Üzgünüm, bu konuda yardımcı olamam" citing the right entry passes every rule above.
    # Against each cited entry and each of its sentences, as the engine judges its drafts.
    claims += answer_problems(encode, reply_text, list(entries), language)
    for check, problems in (
        ("faithful", figures),
        ("clean", clean),
        ("one_language", lang.problems),
        ("claim", claims),
    ):
        result[check] = not problems
        result["reasons"] += [str(p) for p in problems]
    result["allowed"] = lang.allowed
    result["leaks"] = sum(
        1 for p in clean if p.detail.startswith(("a control marker", "a prompt tag"))
    )
    result["wrong_polarity"] = any("the FAQ says" in p.detail for p in claims)
    result["correct"] = all(result[check] for check in CHECKS)
    return result


def run(
    engine: Engine,
    store: FaqStore,
    questions: list[dict],
    *,
    label: str = "",
    progress: Progress | None = None,
    min_confidence: float = 0.5,
) -> list[dict]:
    from bot.engine import Turn

    progress = progress or (lambda phase, done, total: None)
    rows = []
    for n, q in enumerate(questions):
        conversation = f"answers-{label}-{q['id']}-{n}"
        for earlier in q.get("before", []):
            engine.answer(Turn(earlier, conversation_id=conversation, channel="eval")).final()
        start = time.perf_counter()
        reply = engine.answer(Turn(q["text"], conversation_id=conversation, channel="eval"))
        first = None
        for token in reply:
            if first is None and token.strip():
                first = time.perf_counter() - start
        seconds = time.perf_counter() - start
        cited = [c.title for c in reply.citations]
        verdict = judge(
            q,
            reply.text,
            reply.status,
            cited,
            _entry_texts(store, reply.citations),
            store.encode_use if store.use_encoder is not None else None,
        )
        over_refusal = False
        if q["kind"] == "faq" and reply.status == Status.NO_ANSWER:
            over_refusal = any(
                h.document.metadata.get("title") in q["expected_entries"]
                and h.relevance >= min_confidence
                for h in engine.retriever.hits(reply.query or q["text"])
            )
        rows.append(
            {
                "id": q["id"],
                "language": base_language(q["language"]),
                "kind": q["kind"],
                "tags": q.get("tags", []),
                "question": q["text"],
                "before": q.get("before", []),
                "reply": reply.text,
                "status": reply.status,
                "path": reply.path or reply.status,
                "translation": reply.translation,
                "cited": cited,
                "expected": q["expected_entries"],
                "polarity": q.get("polarity"),
                "confidence": round(reply.confidence, 3),
                "first_text_s": round(first if first is not None else seconds, 2),
                "seconds": round(seconds, 2),
                "over_refusal": over_refusal,
                **verdict,
            }
        )
        progress(f"questions {label}".strip(), n + 1, len(questions))
    return rows


def _rate(rows: list[dict], key: str) -> float | None:
    values = [bool(r[key]) for r in rows if key in r]
    return round(float(np.mean(values)), 3) if values else None


def _percentile(values: list[float], q: int) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def summarize(rows: list[dict]) -> dict:
    def stats(items: list[dict]) -> dict:
        faq = [r for r in items if r["kind"] == "faq"]
        answered = [r for r in faq if r["status"] == "answered"]
        return {
            "questions": len(items),
            "correct": _rate(items, "correct"),
            "answerable_correct": _rate(faq, "correct"),
            "unanswerable_declined": _rate([r for r in items if r["kind"] != "faq"], "correct"),
            **{f"{check}": _rate(answered, check) for check in CHECKS},
            "marker_or_tag_leaks": sum(r.get("leaks", 0) for r in items),
            "figure_mismatches": sum(1 for r in answered if not r.get("faithful", True)),
            "wrong_polarity": sum(1 for r in items if r.get("wrong_polarity")),
            "over_refusal": (
                round(sum(r["over_refusal"] for r in faq) / len(faq), 3) if faq else None
            ),
            "paths": dict(Counter(r["path"] for r in items)),
            "first_text_p50_s": _percentile([r["first_text_s"] for r in items], 50),
            "first_text_p95_s": _percentile([r["first_text_s"] for r in items], 95),
            # Answers from an entry read without translating it in the turn (in the customer's
            # language, or its translation cached by an earlier turn), and from one translated.
            "first_text_p50_untranslated_s": _percentile(
                [r["first_text_s"] for r in answered if r.get("translation") in ("own", "cached")],
                50,
            ),
            "first_text_p50_translated_s": _percentile(
                [r["first_text_s"] for r in answered if r.get("translation") == "new"], 50
            ),
            "reply_p50_s": _percentile([r["seconds"] for r in items], 50),
            "reply_p95_s": _percentile([r["seconds"] for r in items], 95),
        }

    by_language: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_language[row["language"]].append(row)
    return {
        "overall": stats(rows),
        "languages": {lang: stats(items) for lang, items in sorted(by_language.items())},
        "failures": [r for r in rows if not r["correct"]],
    }


def evaluate(
    engine: Engine,
    store: FaqStore,
    questions: list[dict],
    *,
    compare: bool = False,
    progress: Progress | None = None,
    min_confidence: float = 0.5,
) -> dict:
    """The report; with ``compare``, the legacy path on the same questions in the same run."""
    systems = {"verified": "verified", **({"legacy": "legacy"} if compare else {})}
    report: dict = {"systems": {}}
    saved = engine.answer_path
    try:
        for name, path in systems.items():
            engine.answer_path = path
            rows = run(
                engine,
                store,
                questions,
                label=name,
                progress=progress,
                min_confidence=min_confidence,
            )
            report["systems"][name] = {**summarize(rows), "rows": rows}
    finally:
        engine.answer_path = saved
    return report


# --- covid_faq_en: paraphrased questions with reference answers ----------------------------


def covid_questions(root: Path, limit: int | None) -> tuple[str, list[dict]]:
    """A Markdown FAQ of covid_faq_en's entries, and its paraphrase questions."""
    evalset = covid_faq_en(root, limit)
    by_id = {e.id: e for e in evalset.entries}
    lines = []
    for entry in evalset.entries:
        title = _title(entry.question)
        answer = " ".join(entry.text.split())
        if answer.startswith(" ".join(entry.question.split())):
            answer = answer[len(" ".join(entry.question.split())) :].strip()
        lines.append(f"## {title}\n{answer}\n")
    questions = []
    for n, query in enumerate(evalset.queries):
        gold = sorted(query.gold)
        titles = [_title(by_id[g].question) for g in gold if g in by_id]
        if not titles:
            continue
        questions.append(
            {
                "id": f"covid-{n}",
                "language": "en",
                "kind": "faq",
                "text": query.text,
                "expected_entries": titles,
                "polarity": None,
                "before": [],
                "tags": ["paraphrase"],
                "reference": " ".join(by_id[gold[0]].text.split()),
            }
        )
    return "\n".join(lines), questions


def _title(question: str) -> str:
    return " ".join(question.lstrip("#").split()).rstrip("?") + "?"


def reference_figures(rows: list[dict], questions: list[dict]) -> dict:
    """How many of the reference answers' figures the replies keep."""
    by_id = {q["id"]: q for q in questions}
    kept = total = 0
    for row in rows:
        reference = by_id.get(row["id"], {}).get("reference")
        if not reference:
            continue
        wanted = answer_checks.figures(reference).numbers
        total += len(wanted)
        kept += len(wanted & answer_checks.figures(row["reply"]).numbers)
    return {
        "reference_figures": total,
        "kept": kept,
        "coverage": round(kept / total, 3) if total else None,
    }


# --- the command ----------------------------------------------------------------------------

SETS = {"shop": SHOP_ANSWER_SET, "language_set": LANGUAGE_SET}  # in the repository


def run_eval(
    settings: Settings,
    test_set: str,
    *,
    faq: Path | None = None,
    data: Path | None = None,
    languages: str | None = None,
    limit: int | None = None,
    compare: bool = False,
    progress: Progress | None = None,
) -> dict:
    """``linguadesk eval answers``: ``test_set`` is a name of :data:`SETS`, ``covid_faq_en``
    (its own FAQ, from ``data``) or an answer set file; the FAQ is the shop's unless given."""
    scratch_faq = None
    try:
        if test_set == "covid_faq_en":
            markdown, questions = covid_questions(data or default_root(), limit)
            scratch_faq = Path(tempfile.mkdtemp(prefix="linguadesk-covid-")) / "covid_faq_en.md"
            scratch_faq.write_text(markdown, encoding="utf-8")
            faq = scratch_faq
        else:
            path = repository_path(SETS[test_set]) if test_set in SETS else Path(test_set)
            questions = select_questions(load_answer_set(path), languages, limit)
        engine, store, scratch = eval_engine(settings, faq or repository_path(SHOP_FAQ))
        try:
            report = evaluate(
                engine,
                store,
                questions,
                compare=compare,
                progress=progress,
                min_confidence=settings.answers.min_confidence,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        if scratch_faq is not None:
            shutil.rmtree(scratch_faq.parent, ignore_errors=True)
    if test_set == "covid_faq_en":
        for system in report["systems"].values():
            system["reference"] = reference_figures(system["rows"], questions)
    report["set"] = test_set
    return report
