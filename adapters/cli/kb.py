"""``linguadesk kb``: sync, list, show and delete the FAQ knowledge base."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from linguadesk.settings import Settings, get_settings
from runtime import build_knowledge_base, build_localizer, ensure_llm, translate_at_ingest

from .console import ModelProgress, err, fail, guarded, out, progress_bar

if TYPE_CHECKING:
    from bot.localize import LocalizeReport
    from knowledge.admin import IngestProgress, IngestReport, KnowledgeBase
    from knowledge.sync import SyncPlan

app = typer.Typer(help="Manage the FAQ knowledge base.", no_args_is_help=True)
translations_app = typer.Typer(
    help="Review the localized FAQ: export for a translator, import what they corrected.",
    no_args_is_help=True,
)
app.add_typer(translations_app, name="translations")


def _stored_source(kb: KnowledgeBase, source: str) -> str:
    """The stored name of ``source``, or the command ends saying where to find the names."""
    resolved = kb.resolve_source(source)
    if resolved is None:
        raise fail(
            f"No source matches '{source}'. Run 'linguadesk kb stats' to see the stored sources.",
            1,
        )
    return resolved


def _kb() -> KnowledgeBase:
    with ModelProgress() as report:
        return build_knowledge_base(get_settings(), report)


class _IngestBar:
    """The ingest's progress: one task for the files, one per file being embedded."""

    def __init__(self, progress: Progress, total_files: int) -> None:
        self.progress = progress
        self.files = progress.add_task("Reading sources", total=total_files)

    def file_started(self, source: str, index: int, total: int) -> None:
        self.progress.update(
            self.files, completed=index, total=total, description=f"Reading {Path(source).name}"
        )

    def embedding(self, source: str, total: int) -> Callable[[int], None]:
        task = self.progress.add_task(f"Embedding {Path(source).name}", total=total)
        return lambda n: self.progress.advance(task, n)


def _ingest(
    kb: KnowledgeBase, sources: list[str], product: str, dry_run: bool, bar: Progress
) -> IngestReport:
    """Files and folders in one sync, then each URL; one report for all."""
    # Both load with the knowledge base (chromadb), which _kb() has built by now.
    from knowledge.admin import expand_paths
    from knowledge.remote import is_url

    urls = [s for s in sources if is_url(s)]
    paths = [Path(s) for s in sources if not is_url(s)]
    files, _ = expand_paths(paths)
    # IngestProgress is a do-nothing base class; the bar has the same two methods.
    report = kb.ingest(
        paths,
        product=product,
        dry_run=dry_run,
        progress=cast("IngestProgress", _IngestBar(bar, len(files))),
    )
    for url in urls:
        fetched = kb.ingest_url(url, product=product, dry_run=dry_run)
        report.plans += fetched.plans
        report.errors += fetched.errors
        report.warnings += fetched.warnings
    return report


def _print_plan(plan: SyncPlan, dry_run: bool) -> None:
    out.print(
        f"[bold]{escape(plan.source)}[/]: +{len(plan.added)} added, "
        f"~{len(plan.updated)} updated, -{len(plan.deleted)} deleted, "
        f"{plan.unchanged} unchanged" + (" (dry run, nothing written)" if dry_run else ""),
        highlight=False,
    )
    for sign, style, titles in (
        ("+", "green", [c.title for c in plan.added]),
        ("~", "yellow", [c.title for c in plan.updated]),
        ("-", "red", list(plan.deleted.values())),
    ):
        if dry_run or len(titles) <= 20:
            for title in titles:
                out.print(f"  [{style}]{sign}[/] {escape(title)}", highlight=False)


@app.command("ingest")
@guarded
def kb_ingest(
    sources: Annotated[list[str], typer.Argument(help="Files, folders or http(s) URLs to ingest.")],
    product: Annotated[str, typer.Option(help="Product tag for entries that have none.")] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the changes, write nothing.")
    ] = False,
    translate: Annotated[
        bool | None,
        typer.Option(
            "--translate/--no-translate",
            help="Translate new and changed entries into kb.languages (default: when an LLM "
            "server is configured).",
        ),
    ] = None,
) -> None:
    """Sync FAQ sources: add new entries, update changed ones, delete vanished ones."""
    kb = _kb()
    with progress_bar("percent") as bar:
        report = _ingest(kb, sources, product, dry_run, bar)
    settings = get_settings()
    if not dry_run and (translate_at_ingest(settings) if translate is None else translate):
        changed = {c.id for plan in report.plans for c in plan.added + plan.updated}
        if changed:
            _print_translation(_translate(kb, settings, settings.kb.languages, ids=changed))
    for plan in report.plans:
        _print_plan(plan, dry_run)
    for warning in report.warnings:
        err.print(f"[bold yellow]Warning:[/] {escape(warning)}", highlight=False)
    for error in report.errors:
        err.print(f"[bold red]Error:[/] {escape(str(error))}", highlight=False)
    if report.errors:
        done = "checked" if dry_run else "ingested"
        rest = f"; the other sources were {done}" if report.plans else ""
        err.print(f"{len(report.errors)} source(s) failed{rest}.")
        raise typer.Exit(1)


def _translate(
    kb: KnowledgeBase,
    settings: Settings,
    languages: list[str],
    *,
    source: str | None = None,
    ids: set[str] | None = None,
) -> LocalizeReport:
    with ModelProgress() as report_models:
        ensure_llm(settings, report_models)
    from bot.localize import LLMUnreachable

    localizer = build_localizer(settings, kb.store)
    with progress_bar("eta") as bar:
        task = bar.add_task(f"Translating into {', '.join(languages)}", total=None)
        try:
            return localizer.run(
                languages,
                source=source,
                ids=ids,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except LLMUnreachable as exc:
            raise fail(f"Translation stopped: {exc}.", 1) from None


def _print_translation(report: LocalizeReport) -> None:
    out.print(
        f"Translated {report.translated} of {report.pending} (entry, language) pairs in "
        f"{report.seconds:.0f} s ({report.per_minute:.1f} per minute); "
        f"{report.up_to_date} were up to date.",
        highlight=False,
    )
    for failure in report.failed:
        err.print(
            f"[bold yellow]Not translated:[/] {escape(failure.title)} into {failure.language}: "
            f"{escape(failure.reason)}",
            highlight=False,
        )
    if report.failed:
        err.print(
            f"{len(report.failed)} translation(s) failed the checks and were left out; those "
            "entries are still found through their own language. Run 'linguadesk kb translate' "
            "again to retry them, or import reviewed ones ('kb translations import')."
        )


def _language_list(text: str | None, default: list[str]) -> list[str]:
    if not text:
        return list(default)
    from common.language import base_language

    return list(dict.fromkeys(base_language(x.strip()) for x in text.split(",") if x.strip()))


@app.command("translate")
@guarded
def kb_translate(
    languages: Annotated[
        str | None, typer.Option(help="Comma-separated language codes (default: kb.languages).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only the entries of this source.")] = None,
) -> None:
    """Translate entries that have no up-to-date translation; safe to stop and run again."""
    settings = get_settings()
    kb = _kb()
    if source:
        source = _stored_source(kb, source)
    report = _translate(
        kb, settings, _language_list(languages, settings.kb.languages), source=source
    )
    _print_translation(report)
    if report.failed:
        raise typer.Exit(1)


@translations_app.command("export")
@guarded
def translations_export(
    language: Annotated[str, typer.Option(help="The language to review, e.g. ja.")],
    output_format: Annotated[
        str, typer.Option("--format", help="csv or xliff (XLIFF 2.0).")
    ] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only the entries of this source.")] = None,
) -> None:
    """Every entry with its translation (empty when missing) and status, for a translator."""
    from knowledge import translations

    if output_format not in ("csv", "xliff"):
        raise fail(f"--format {output_format}: use csv or xliff.", 2)
    kb = _kb()
    if source:
        source = kb.resolve_source(source) or source
    rows = translations.rows(kb.store, language, source)
    text = (
        translations.export_csv(rows)
        if output_format == "csv"
        else translations.export_xliff(rows, language)
    )
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    out.print(f"Wrote {len(rows)} entries to {output}.", highlight=False)


@translations_app.command("import")
@guarded
def translations_import(
    file: Annotated[Path, typer.Argument(help="A .csv or .xliff file from 'export', edited.")],
) -> None:
    """Store a translator's corrections; each imported row is marked reviewed."""
    from bot.entry_translation import review_problems
    from knowledge import translations

    if not file.is_file():
        raise fail(f"{file} does not exist. Give the file that 'kb translations export' wrote.", 2)
    try:
        report = translations.import_file(
            _kb().store, file.name, file.read_bytes(), review_problems
        )
    except translations.TranslationFileError as exc:
        raise fail(str(exc), 1) from None
    out.print(
        f"Imported {report.imported} reviewed translation(s) from {file.name}"
        + (f"; {report.unchanged} row(s) not edited, kept as they were" if report.unchanged else "")
        + (f"; {report.empty} row(s) without a translation skipped" if report.empty else "")
        + ".",
        highlight=False,
    )
    if report.stale:
        err.print(
            f"[bold yellow]Warning:[/] {report.stale} of them were made from an older version "
            "of their entry: they are marked stale. Export again to review the current text.",
            highlight=False,
        )
    for error in report.errors:
        err.print(f"[bold red]Error:[/] {escape(error)}", highlight=False)
    if report.errors:
        raise typer.Exit(1)


@app.command("list")
@guarded
def kb_list(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    language: Annotated[str | None, typer.Option(help="Only this language code.")] = None,
) -> None:
    """List stored entries."""
    kb = _kb()
    if source:
        source = kb.resolve_source(source) or source
    table = Table("lang", "title", "source")
    table.add_column("id", no_wrap=True, min_width=32)
    for chunk_id, meta in kb.list_entries(source, language):
        table.add_row(
            escape(str(meta.get("language", ""))),
            escape(str(meta.get("title", ""))),
            escape(Path(str(meta.get("source", ""))).name),
            chunk_id,
        )
    out.print(table)


@app.command("show")
@guarded
def kb_show(entry_id: Annotated[str, typer.Argument(help="An id from 'kb list'.")]) -> None:
    """Show one stored entry with its metadata."""
    doc = _kb().show(entry_id)
    if doc is None:
        raise fail(f"No entry with id {entry_id}. Run 'linguadesk kb list' to see the ids.", 1)
    out.print(doc.page_content, highlight=False, markup=False)
    out.print()
    for key, value in sorted(doc.metadata.items()):
        out.print(f"[dim]{key}:[/] {escape(str(value))}", highlight=False)


@app.command("delete")
@guarded
def kb_delete(
    source: Annotated[str | None, typer.Option(help="Delete every entry of this source.")] = None,
    entry_id: Annotated[str | None, typer.Option("--id", help="Delete this entry.")] = None,
) -> None:
    """Delete a whole source or one entry."""
    if bool(source) == bool(entry_id):
        raise fail("Give exactly one of --source or --id.", 2)
    kb = _kb()
    if source:
        resolved = _stored_source(kb, source)
        out.print(f"Deleted {kb.delete_source(resolved)} chunk(s) of {resolved}.", highlight=False)
    elif entry_id:
        deleted = kb.delete_id(entry_id)
        if not deleted:
            raise fail(f"No entry with id {entry_id}. Run 'linguadesk kb list' to see the ids.", 1)
        out.print(f"Deleted {deleted} chunk(s) of entry {entry_id}.")


@app.command("stats")
@guarded
def kb_stats(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Entries per language, source and product; translation coverage per language."""
    from knowledge import translations

    kb = _kb()
    stats = kb.stats()
    cover = translations.coverage(kb.store, get_settings().kb.languages)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "entries": stats.entries,
                    "chunks": stats.chunks,
                    "by_language": stats.by_language,
                    "by_source": stats.by_source,
                    "by_product": stats.by_product,
                    "translations": {
                        lang: {**c.__dict__, "missing": c.missing} for lang, c in cover.items()
                    },
                }
            )
        )
        return
    out.print(f"{stats.entries} entries ({stats.chunks} chunks)")
    for title, counter in (
        ("language", stats.by_language),
        ("source", stats.by_source),
        ("product", stats.by_product),
    ):
        table = Table(title, "entries")
        for key, count in counter.most_common():
            table.add_row(escape(key), str(count))
        out.print(table)
    if stats.chunks:
        table = Table("translated into", "reviewed", "machine", "stale", "missing", "coverage")
        for lang, c in cover.items():
            done = (c.reviewed + c.machine) / c.entries if c.entries else 1.0
            bar = "█" * round(done * 20) + "·" * (20 - round(done * 20))
            table.add_row(
                lang,
                str(c.reviewed),
                str(c.machine),
                str(c.stale),
                str(c.missing),
                f"{bar} {done:.0%}",
            )
        out.print(table)
        if any(c.missing or c.stale for c in cover.values()):
            out.print(
                "[dim]'linguadesk kb translate' translates the missing and stale ones; "
                "'kb translations export' hands them to a reviewer.[/]"
            )
