"""The FAQ localized at ingest: each entry translated once into every configured language.

A customer's question is then matched within its own language (small encoders are strong
there, weak across languages), and the answer is written from a translation a person may
have reviewed. Each entry is translated with the ``translate`` preset and checked like an
answer: the same figures both ways, clean, in the target language; one that fails twice is
dropped and reported. Every translation is stored as soon as it is made, so a run that is
killed resumes where it stopped, and a run over an unchanged FAQ translates nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from langchain_core.documents import Document

from common.guardrails import strip_instructions
from common.language import base_language
from common.translation import MACHINE, Translation
from linguadesk.settings import language_codes

from .entry_translation import EntryTranslator, split_entry

log = logging.getLogger(__name__)


class LocalizedStore(Protocol):
    """What the job needs of the FAQ store (``retrieval.vector_store.FaqStore``)."""

    def documents(self, ids: list[str] | None = None) -> Iterator[Document]: ...

    def translations_of(
        self,
        chunk_ids: list[str] | None = None,
        *,
        language: str | None = None,
        source: str | None = None,
    ) -> list[Translation]: ...

    def put_translations(self, items: list[Translation]) -> int: ...


@dataclass
class Failure:
    chunk_id: str
    title: str
    language: str
    reason: str


@dataclass
class LocalizeReport:
    languages: list[str]
    pending: int = 0  # translations this run had to make
    translated: int = 0
    up_to_date: int = 0  # fresh already (machine or reviewed)
    failed: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def per_minute(self) -> float:
        return 60.0 * self.translated / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int, int], None]  # (done, total)
MAX_ERRORS_IN_A_ROW = 3


class LLMUnreachable(RuntimeError):
    """The LLM kept failing: the run stopped; what it translated is stored."""


class Localizer:
    def __init__(
        self, store: LocalizedStore, translator: EntryTranslator, *, concurrency: int = 1
    ) -> None:
        self.store = store
        self.translator = translator
        self.concurrency = max(1, concurrency)

    def pending(
        self,
        languages: list[str],
        *,
        source: str | None = None,
        ids: set[str] | None = None,
    ) -> tuple[list[tuple[Document, str]], int]:
        """(the (entry, language) pairs to translate, how many are fresh already): missing
        and stale ones, never an entry into its own language."""
        docs = [
            d
            for d in self.store.documents(sorted(ids) if ids is not None else None)
            if source is None or d.metadata.get("source") == source
        ]
        wanted = {str(d.id) for d in docs}
        fresh = {
            (t.chunk_id, t.language)
            for t in self.store.translations_of(source=source)
            if not t.stale and t.chunk_id in wanted
        }
        work: list[tuple[Document, str]] = []
        up_to_date = 0
        for doc in docs:
            own = base_language(str(doc.metadata.get("language") or "en"))
            for language in languages:
                if base_language(language) == own:
                    continue
                if (str(doc.id), language) in fresh:
                    up_to_date += 1
                else:
                    work.append((doc, language))
        return work, up_to_date

    def run(
        self,
        languages: list[str],
        *,
        source: str | None = None,
        ids: set[str] | None = None,
        progress: Progress | None = None,
    ) -> LocalizeReport:
        started = time.perf_counter()
        languages = language_codes(languages, "languages")
        work, up_to_date = self.pending(languages, source=source, ids=ids)
        report = LocalizeReport(list(languages), len(work), up_to_date=up_to_date)
        if progress:
            progress(0, len(work))
        queue = iter(work)
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="translate")
        running: dict[Future[Translation | str], tuple[Document, str]] = {}
        errors_in_a_row = 0

        def submit() -> None:
            for doc, language in queue:
                running[pool.submit(self.translate_entry, doc, language)] = (doc, language)
                return

        try:
            for _ in range(self.concurrency):
                submit()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    doc, language = running.pop(future)
                    try:
                        result = future.result()
                        errors_in_a_row = 0
                    except Exception as exc:  # the LLM failed: report it, keep the others
                        result = f"the LLM failed ({type(exc).__name__}: {exc})"
                        errors_in_a_row += 1
                        if errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                            raise LLMUnreachable(
                                f"the LLM failed {errors_in_a_row} times in a row "
                                f"({type(exc).__name__}: {exc}); what was translated is "
                                "kept: run the same command again once it answers"
                            ) from exc
                    # Stored at once (in this thread: Chroma writes stay serial), so a killed
                    # run keeps what it made.
                    if isinstance(result, Translation) and self.store.put_translations([result]):
                        report.translated += 1
                    elif isinstance(result, Translation):
                        pass  # deleted while it was being translated
                    else:
                        title = str(doc.metadata.get("title") or doc.page_content[:60])
                        report.failed.append(Failure(str(doc.id), title, language, result))
                        log.info("no translation of %s into %s: %s", doc.id, language, result)
                    submit()
                    if progress:
                        progress(report.translated + len(report.failed), len(work))
        finally:  # stopped (Ctrl-C, the LLM gone): do not wait for the requests queued
            pool.shutdown(wait=False, cancel_futures=True)
        report.seconds = time.perf_counter() - started
        return report

    def translate_entry(self, doc: Document, language: str) -> Translation | str:
        """The entry in ``language``, or why there is none."""
        chunk_id = str(doc.id)
        own = base_language(str(doc.metadata.get("language") or "en"))
        text = strip_instructions(doc.page_content, chunk_id)
        has_question = bool(doc.metadata.get("question"))
        translated, problems = self.translator.translate_checked(
            text, own, language, layout=has_question
        )
        if translated is None:
            return problems[0].detail if problems else "no translation passed the checks"
        question, answer = split_entry(translated) if has_question else ("", translated.strip())
        if not answer or (has_question and not question):
            return "the translation lost the question or the answer"
        variants: tuple[str, ...] = ()
        wanted = [v for v in str(doc.metadata.get("variants") or "").split("\n") if v.strip()]
        if wanted and int(doc.metadata.get("chunk_index", 0) or 0) == 0:
            # One by one: a small model asked for a list merges or drops lines. A variant
            # that fails the checks is left out; the entry is still found by the others.
            done = []
            for variant in wanted:
                line, _ = self.translator.translate_checked(variant, own, language, layout=False)
                if line and "\n" not in line.strip():
                    done.append(line.strip())
            variants = tuple(done)
        return Translation(
            chunk_id,
            language,
            question,
            answer,
            variants,
            MACHINE,
            str(doc.metadata.get("content_hash", "")),
        )
