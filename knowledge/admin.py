"""Knowledge-base admin operations, shared by the CLI and the chat/web admin commands."""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document

from common.guardrails import looks_like_instructions
from common.language import detect_language
from retrieval.vector_store import FaqStore

from .chunking import entries_to_chunks
from .entries import FaqEntry, SourceError
from .isolation import load_isolated
from .limits import IngestLimits
from .loaders import SUPPORTED_SUFFIXES, load_file
from .remote import download, is_url, source_name_for
from .sync import SyncPlan, apply_sync, plan_sync


@dataclass
class IngestReport:
    plans: list[SyncPlan] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    # Entries stored, but worth a look (e.g. text that gives the bot orders).
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Stats:
    entries: int
    chunks: int
    by_language: Counter
    by_source: Counter
    by_product: Counter


class IngestProgress:
    """Callbacks the CLI turns into a progress bar; the default does nothing."""

    def file_started(self, source: str, index: int, total: int) -> None: ...
    def embedding(self, source: str, total: int) -> Callable[[int], None]:
        return lambda n: None


def source_name(path: Path) -> str:
    return path.expanduser().resolve().as_posix()


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[SourceError]]:
    files: list[Path] = []
    errors: list[SourceError] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            errors.append(SourceError(str(path), "does not exist"))
    return files, errors


class KnowledgeBase:
    def __init__(
        self, store: FaqStore, limits: IngestLimits | None = None, *, url_proxy: str | None = None
    ) -> None:
        self.store = store
        self.limits = limits or IngestLimits()
        self.url_proxy = url_proxy
        # URL fetches share the web server's threadpool with customers: only a few at once.
        self._url_slots = threading.BoundedSemaphore(self.limits.max_concurrent_urls)
        # Each parse of a file from outside is a child process of up to parse_memory_mb.
        self._parse_slots = threading.BoundedSemaphore(self.limits.max_concurrent_parses)
        self._kept_lock = threading.Lock()  # one add_entry at a time (in this process)

    def _detect(self, text: str) -> str:
        return detect_language(text).language

    def ingest(
        self,
        paths: Iterable[Path],
        *,
        product: str = "",
        dry_run: bool = False,
        progress: IngestProgress | None = None,
    ) -> IngestReport:
        progress = progress or IngestProgress()
        files, errors = expand_paths(paths)
        report = IngestReport(errors=errors, dry_run=dry_run)
        for index, path in enumerate(files):
            source = source_name(path)
            progress.file_started(source, index, len(files))
            self._ingest_file(path, source, product, report, progress)
        self._sync_vanished_files(paths, report, progress)
        return report

    def ingest_upload(
        self, filename: str, data: bytes, *, product: str = "", dry_run: bool = False
    ) -> IngestReport:
        """A file sent from the admin API or a chat: stored as source ``upload:<name>``, so
        uploading the same name again syncs it (changed entries updated, removed ones deleted)."""
        name = "".join(ch for ch in Path(filename.replace("\\", "/")).name if ch.isprintable())
        name = name.strip()[:200]
        report = IngestReport(dry_run=dry_run)
        if not name or name.startswith("."):
            report.errors.append(
                SourceError(
                    filename or "(no name)",
                    "needs a file name such as faq.md, so its format can be recognised",
                )
            )
            return report
        with tempfile.TemporaryDirectory(prefix="linguadesk-upload-") as folder:
            path = Path(folder) / f"upload{Path(name).suffix.lower()}"
            path.write_bytes(data)
            self._ingest_file(
                path, f"upload:{name}", product, report, IngestProgress(), isolated=True
            )
        return report

    def add_entry(self, source: str, markdown: str) -> IngestReport:
        """Adds one entry (Markdown, ``## Question`` and its answer) to a source the knowledge
        base keeps itself, such as ``gaps:approved``, and syncs that source as any other."""
        with self._kept_lock:
            return self._add_entry(source, markdown)

    def _add_entry(self, source: str, markdown: str) -> IngestReport:
        kept = self.store.kept_text(source)
        text = (kept.rstrip() + "\n\n" if kept.strip() else "") + markdown.strip() + "\n"
        report = IngestReport()
        with tempfile.TemporaryDirectory(prefix="linguadesk-entry-") as folder:
            path = Path(folder) / "entries.md"
            path.write_text(text, encoding="utf-8")
            self._ingest_file(path, source, "", report, IngestProgress())
        if report.ok:
            self.store.keep_text(source, text)
        return report

    def ingest_url(
        self,
        url: str,
        *,
        product: str = "",
        dry_run: bool = False,
        max_bytes: int = 20 * 1024 * 1024,
        allow_private: bool = True,
    ) -> IngestReport:
        """A web page or file, stored under its URL (without credentials or query) as the
        source name. ``allow_private=False`` refuses addresses that are not public."""
        report = IngestReport(dry_run=dry_run)
        shown = source_name_for(url) if is_url(url) else url
        if not self._url_slots.acquire(blocking=False):
            report.errors.append(
                SourceError(
                    shown,
                    "was not fetched: the most URL ingests "
                    f"that run at once "
                    f"({self.limits.max_concurrent_urls}) are running; "
                    "try again in a minute",
                )
            )
            return report
        try:
            with tempfile.TemporaryDirectory(prefix="linguadesk-url-") as folder:
                try:
                    path = download(
                        url,
                        Path(folder),
                        max_bytes=max_bytes,
                        timeout_s=self.limits.url_timeout_s,
                        allow_private=allow_private,
                        proxy=self.url_proxy,
                    )
                except SourceError as exc:
                    report.errors.append(SourceError(shown, exc.problem))
                    return report
                self._ingest_file(
                    path, source_name_for(url), product, report, IngestProgress(), isolated=True
                )
        finally:
            self._url_slots.release()
        return report

    def _ingest_file(
        self,
        path: Path,
        source: str,
        product: str,
        report: IngestReport,
        progress: IngestProgress,
        *,
        isolated: bool = False,
    ) -> None:
        """``isolated``: a file from outside (upload, URL, chat), parsed in a child process
        under ``self.limits``, so a hostile one cannot freeze or exhaust this server."""
        try:
            if isolated:
                entries = self._load_isolated(path, source)
            else:
                entries = load_file(path, source, self.limits)
            name = Path(source).name or source  # not the temporary file of an upload or URL
            report.warnings.extend(
                f"{name}: entry {entry.title!r} contains text addressed to the bot "
                "(like 'ignore previous instructions'); it is left out of answers. Check "
                "that entry."
                for entry in entries
                if looks_like_instructions(f"{entry.question}\n{entry.answer}")
            )
            mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            chunks = entries_to_chunks(
                entries,
                source,
                detect_language=self._detect,
                product=product,
                default_updated_at=mtime.date().isoformat(),
            )
            self._sync(report, plan_sync(self.store, source, chunks), progress)
        except SourceError as exc:
            report.errors.append(exc)
        except Exception as exc:  # embedding or store failure: report it, go on with the rest
            report.errors.append(
                SourceError(
                    source,
                    f"could not be stored ({type(exc).__name__}: {exc}); run the same "
                    "ingest again once the cause is fixed",
                )
            )

    def _load_isolated(self, path: Path, source: str) -> list[FaqEntry]:
        if not self._parse_slots.acquire(blocking=False):
            raise SourceError(
                source,
                "was not read: the most files that are read at once "
                f"({self.limits.max_concurrent_parses}) are being read; try again "
                "in a minute",
            )
        try:
            return load_isolated(path, source, self.limits)
        finally:
            self._parse_slots.release()

    def _sync(self, report: IngestReport, plan: SyncPlan, progress: IngestProgress) -> None:
        report.plans.append(plan)
        if not report.dry_run and plan.changes:
            apply_sync(
                self.store,
                plan,
                progress.embedding(plan.source, len(plan.added) + len(plan.updated)),
            )

    def _sync_vanished_files(
        self, paths: Iterable[Path], report: IngestReport, progress: IngestProgress
    ) -> None:
        """Ingesting a folder also syncs it as a whole: a file deleted from it is deleted here."""
        folders = [source_name(p) + "/" for p in paths if p.is_dir()]
        if not folders:
            return
        seen = {plan.source for plan in report.plans} | {e.source for e in report.errors}
        for source in sorted(self.sources()):
            if (
                source not in seen
                and any(source.startswith(f) for f in folders)
                and not Path(source).exists()
            ):
                self._sync(report, plan_sync(self.store, source, []), progress)

    def sources(self) -> Counter:
        return Counter(meta.get("source", "") for _, meta in self.store.metadata_where())

    def list_entries(
        self, source: str | None = None, language: str | None = None
    ) -> list[tuple[str, dict]]:
        where: dict | None = None
        clauses = [{k: v} for k, v in (("source", source), ("language", language)) if v]
        if len(clauses) == 1:
            where = clauses[0]
        elif clauses:
            where = {"$and": clauses}
        rows = list(self.store.metadata_where(where))
        return sorted(
            rows,
            key=lambda r: (
                r[1].get("source", ""),
                r[1].get("title", ""),
                r[1].get("chunk_index", 0),
            ),
        )

    def show(self, chunk_id: str) -> Document | None:
        return self.store.get(chunk_id)

    def resolve_source(self, source: str) -> str | None:
        """Accept the stored name, or a path that resolves to it."""
        known = self.sources()
        if source in known:
            return source
        candidate = source_name(Path(source))
        if candidate in known:
            return candidate
        matches = [s for s in known if s.endswith("/" + source.removeprefix("./"))]
        return matches[0] if len(matches) == 1 else None

    def delete_source(self, source: str) -> int:
        ids = [cid for cid, _ in self.store.metadata_where({"source": source})]
        self.store.delete(ids)
        if self.store.kept_text(source):
            self.store.keep_text(source, "")  # a source kept here (add_entry) starts over
        return len(ids)

    def delete_id(self, entry_or_chunk_id: str) -> int:
        """Delete one entry (all its chunks) by entry id, or a single chunk by chunk id."""
        ids = [cid for cid, _ in self.store.metadata_where({"entry_id": entry_or_chunk_id})]
        if not ids and self.store.get(entry_or_chunk_id) is not None:
            ids = [entry_or_chunk_id]
        self.store.delete(ids)
        return len(ids)

    def stats(self) -> Stats:
        rows = [meta for _, meta in self.store.metadata_where()]

        def entries_by(field_name: str, missing: str) -> Counter:
            groups: dict[str, set] = {}
            for m in rows:
                groups.setdefault(str(m.get(field_name) or missing), set()).add(m.get("entry_id"))
            return Counter({k: len(v) for k, v in groups.items()})

        return Stats(
            entries=len({m.get("entry_id") for m in rows}),
            chunks=len(rows),
            by_language=entries_by("language", "?"),
            by_source=entries_by("source", "?"),
            by_product=entries_by("product", "(none)"),
        )
