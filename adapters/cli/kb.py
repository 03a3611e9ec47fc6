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

from linguadesk.settings import get_settings
from runtime import build_knowledge_base

from .console import ModelProgress, err, fail, guarded, out, progress_bar

if TYPE_CHECKING:
    from knowledge.admin import IngestProgress, IngestReport, KnowledgeBase
    from knowledge.sync import SyncPlan

app = typer.Typer(help="Manage the FAQ knowledge base.", no_args_is_help=True)


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
) -> None:
    """Sync FAQ sources: add new entries, update changed ones, delete vanished ones."""
    kb = _kb()
    with progress_bar("percent") as bar:
        report = _ingest(kb, sources, product, dry_run, bar)
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
        resolved = kb.resolve_source(source)
        if resolved is None:
            raise fail(
                f"No source matches '{source}'. Run 'linguadesk kb stats' to see the "
                "stored sources.",
                1,
            )
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
    """Entries per language, source and product."""
    stats = _kb().stats()
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "entries": stats.entries,
                    "chunks": stats.chunks,
                    "by_language": stats.by_language,
                    "by_source": stats.by_source,
                    "by_product": stats.by_product,
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
