"""The ``linguadesk`` command: models, knowledge-base admin, and asking from the terminal."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from linguadesk.settings import BUILTIN_EMBEDDING_MODEL, get_settings

app = typer.Typer(help="Linguadesk: a multilingual support bot grounded in your FAQ.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
models_app = typer.Typer(help="Provision the embedded models.", no_args_is_help=True)
kb_app = typer.Typer(help="Manage the FAQ knowledge base.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure the bot on public benchmarks.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")
bench_app = typer.Typer(help="Measure speed.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

out = Console(soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, emoji=False)


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if get_settings().embedding_model == BUILTIN_EMBEDDING_MODEL:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import warnings

    from linguadesk.logs import configure_logging

    warnings.filterwarnings("ignore")
    configure_logging(get_settings())
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def _fail(text: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {escape(text)}", highlight=False)
    return typer.Exit(code)


class _ByteProgress:
    """Rich progress bar for model provisioning, one task per file; shown only if work starts."""

    def __init__(self):
        self.progress: Progress | None = None
        self.tasks: dict[str, int] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.progress is None:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     DownloadColumn(), TimeRemainingColumn(), console=err,
                                     transient=True)
            self.progress.start()
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[label], completed=done)

    def __enter__(self) -> "_ByteProgress":
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


def _guarded(fn):
    """Turn the errors a user can fix into one clear line and exit code 2."""
    from functools import wraps

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from adapters.platforms import PlatformError
        from linguadesk.provision import ProvisioningError
        from linguadesk.settings import ConfigError
        from retrieval.vector_store import StoreUnavailable

        try:
            return fn(*args, **kwargs)
        except (ProvisioningError, StoreUnavailable, FileNotFoundError, PermissionError,
                PlatformError, ConfigError) as exc:
            raise _fail(str(exc)) from None

    return wrapper


@app.callback()
def _setup() -> None:
    from pydantic import ValidationError

    try:
        _quiet_libraries()
    except ValidationError as exc:
        raise _fail(f"Invalid settings: {exc}. Fix the LINGUADESK_* variables or "
                    "linguadesk.toml.") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise _fail(f"Cannot read the settings file: {exc}. Fix linguadesk.toml.") from None


# --- models ---------------------------------------------------------------------------------

@models_app.command("fetch")
@_guarded
def models_fetch(
    llm: Annotated[bool, typer.Option(help="Also provision the embedded LLM (GGUF).")] = True,
) -> None:
    """Build the offline embedding model and assemble the LLM file (verified by sha256)."""
    from bot.llm_server import ensure_llm_gguf
    from retrieval.embeddings import ensure_embedding_model
    from retrieval.use_encoder import load_use_encoder

    settings = get_settings()
    with _ByteProgress() as report:
        embedding = ensure_embedding_model(settings, report)
        if settings.use_encoder:
            load_use_encoder(settings, report)
        gguf = ensure_llm_gguf(settings, report) if llm and not settings.llm_url else None
    out.print(f"Embedding model: {embedding}")
    if gguf:
        out.print(f"LLM: {gguf}")
    elif settings.llm_url:
        out.print(f"LLM: served at {settings.llm_url} (nothing to fetch)")


# --- knowledge base -------------------------------------------------------------------------

def _kb():
    from runtime import build_knowledge_base

    with _ByteProgress() as report:
        return build_knowledge_base(get_settings(), report)


class _IngestBar:
    def __init__(self, progress: Progress, total_files: int):
        self.progress = progress
        self.files = progress.add_task("Reading sources", total=total_files)

    def file_started(self, source: str, index: int, total: int) -> None:
        self.progress.update(self.files, completed=index, total=total,
                             description=f"Reading {Path(source).name}")

    def embedding(self, source: str, total: int):
        task = self.progress.add_task(f"Embedding {Path(source).name}", total=total)
        return lambda n: self.progress.advance(task, n)


def _print_plan(plan, dry_run: bool) -> None:
    out.print(f"[bold]{escape(plan.source)}[/]: +{len(plan.added)} added, ~{len(plan.updated)} updated, "
              f"-{len(plan.deleted)} deleted, {plan.unchanged} unchanged"
              + (" (dry run, nothing written)" if dry_run else ""), highlight=False)
    for sign, style, titles in (("+", "green", [c.title for c in plan.added]),
                                ("~", "yellow", [c.title for c in plan.updated]),
                                ("-", "red", list(plan.deleted.values()))):
        if dry_run or len(titles) <= 20:
            for title in titles:
                out.print(f"  [{style}]{sign}[/] {escape(title)}", highlight=False)


@kb_app.command("ingest")
@_guarded
def kb_ingest(
    sources: Annotated[list[str], typer.Argument(help="Files, folders or http(s) URLs to ingest.")],
    product: Annotated[str, typer.Option(help="Product tag for entries that have none.")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the changes, write nothing.")] = False,
) -> None:
    """Sync FAQ sources: add new entries, update changed ones, delete vanished ones."""
    from knowledge.admin import expand_paths
    from knowledge.remote import is_url

    kb = _kb()
    urls = [s for s in sources if is_url(s)]
    paths = [Path(s) for s in sources if not is_url(s)]
    files, _ = expand_paths(paths)
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  console=err, transient=True) as progress:
        report = kb.ingest(paths, product=product, dry_run=dry_run,
                           progress=_IngestBar(progress, len(files)))
        for url in urls:
            fetched = kb.ingest_url(url, product=product, dry_run=dry_run)
            report.plans += fetched.plans
            report.errors += fetched.errors
            report.warnings += fetched.warnings
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


@kb_app.command("list")
@_guarded
def kb_list(
    source: Annotated[Optional[str], typer.Option(help="Only this source.")] = None,
    language: Annotated[Optional[str], typer.Option(help="Only this language code.")] = None,
) -> None:
    """List stored entries."""
    kb = _kb()
    if source:
        source = kb.resolve_source(source) or source
    table = Table("lang", "title", "source")
    table.add_column("id", no_wrap=True, min_width=32)
    for chunk_id, meta in kb.list_entries(source, language):
        table.add_row(escape(str(meta.get("language", ""))), escape(str(meta.get("title", ""))),
                      escape(Path(str(meta.get("source", ""))).name), chunk_id)
    out.print(table)


@kb_app.command("show")
@_guarded
def kb_show(entry_id: Annotated[str, typer.Argument(help="An id from 'kb list'.")]) -> None:
    """Show one stored entry with its metadata."""
    doc = _kb().show(entry_id)
    if doc is None:
        raise _fail(f"No entry with id {entry_id}. Run 'linguadesk kb list' to see the ids.", 1)
    out.print(doc.page_content, highlight=False, markup=False)
    out.print()
    for key, value in sorted(doc.metadata.items()):
        out.print(f"[dim]{key}:[/] {escape(str(value))}", highlight=False)


@kb_app.command("delete")
@_guarded
def kb_delete(
    source: Annotated[Optional[str], typer.Option(help="Delete every entry of this source.")] = None,
    entry_id: Annotated[Optional[str], typer.Option("--id", help="Delete this entry.")] = None,
) -> None:
    """Delete a whole source or one entry."""
    if bool(source) == bool(entry_id):
        raise _fail("Give exactly one of --source or --id.", 2)
    kb = _kb()
    if source:
        resolved = kb.resolve_source(source)
        if resolved is None:
            raise _fail(f"No source matches '{source}'. Run 'linguadesk kb stats' to see the "
                        "stored sources.", 1)
        out.print(f"Deleted {kb.delete_source(resolved)} chunk(s) of {resolved}.", highlight=False)
    else:
        deleted = kb.delete_id(entry_id)
        if not deleted:
            raise _fail(f"No entry with id {entry_id}. Run 'linguadesk kb list' to see the ids.", 1)
        out.print(f"Deleted {deleted} chunk(s) of entry {entry_id}.")


@kb_app.command("stats")
@_guarded
def kb_stats(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Entries per language, source and product."""
    stats = _kb().stats()
    if as_json:
        out.print_json(json.dumps({
            "entries": stats.entries, "chunks": stats.chunks,
            "by_language": stats.by_language, "by_source": stats.by_source,
            "by_product": stats.by_product,
        }))
        return
    out.print(f"{stats.entries} entries ({stats.chunks} chunks)")
    for title, counter in (("language", stats.by_language), ("source", stats.by_source),
                           ("product", stats.by_product)):
        table = Table(title, "entries")
        for key, count in counter.most_common():
            table.add_row(escape(key), str(count))
        out.print(table)


# --- asking ---------------------------------------------------------------------------------

def _engine():
    from runtime import build_engine

    with _ByteProgress() as report:
        return build_engine(get_settings(), progress=report)


def _print_reply(reply, conversation: str = "") -> None:
    from bot.messages import message

    for token in reply:
        out.print(token, end="", highlight=False, markup=False)
        sys.stdout.flush()
    if reply.status == "handed_off":
        out.print(f"[dim](a person has this conversation; the bot stays quiet until "
                  f"'linguadesk conversations release {escape(conversation)}')[/]", end="")
    out.print()
    if reply.citations:
        out.print(f"[dim]{message('sources', reply.language)}:[/]")
        for c in reply.citations:
            link = f" — {c.url}" if c.url else ""
            out.print(f"  [{c.number}] {c.title}{link}", style="dim", markup=False, highlight=False)
    if reply.offer_handoff:
        out.print(f"[dim]→ {message('talk_to_human', reply.language)}: /human[/]")
    if reply.handoff is not None:
        with err.status("Notifying the team…"):
            try:
                event = reply.handoff.result(timeout=300)
                out.print(f"[dim](handoff {event.id} sent)[/]")
            except Exception as exc:  # delivery problems are logged by the service
                out.print(f"[dim](handoff not delivered: {type(exc).__name__})[/]")


@app.command()
@_guarded
def ask(
    question: Annotated[str, typer.Argument(help="The customer's question, in any language.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
) -> None:
    """Answer one question, streamed, with citations."""
    from bot.engine import Turn

    reply = _engine().answer(Turn(question, conversation_id=f"cli:{uuid.uuid4()}", channel="cli"))
    if as_json:
        text = reply.final()
        out.print_json(json.dumps({
            "text": text, "language": reply.language, "status": reply.status,
            "confidence": round(reply.confidence, 4), "grounded": reply.grounded,
            "query": reply.query, "offer_handoff": reply.offer_handoff, "error": reply.error,
            "citations": [c.__dict__ for c in reply.citations],
        }, ensure_ascii=False))
    else:
        _print_reply(reply)
    if reply.error:
        raise typer.Exit(3)


@app.command()
@_guarded
def chat(
    conversation: Annotated[Optional[str], typer.Option(
        help="Continue this conversation key (see 'conversations list').")] = None,
) -> None:
    """Talk to the bot in the terminal (multi-turn). /new starts over, /human asks for a
    person, /quit leaves."""
    from bot.engine import Turn

    engine = _engine()
    with err.status("Starting the language model…"):
        _ = engine.llm
    conversation = conversation or f"cli:{uuid.uuid4()}"
    out.print("[bold]Linguadesk[/] — ask in any language. /new starts a new conversation, "
              "/human asks for a person, /quit leaves.")
    out.print(f"[dim]conversation {escape(conversation)}[/]")
    while True:
        try:
            text = out.input("[bold cyan]you>[/] ")
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        command = text.strip().lower()
        if command in ("/quit", "/exit"):
            return
        if command == "/new":
            conversation = f"cli:{uuid.uuid4()}"
            out.print(f"[dim]New conversation {escape(conversation)}.[/]")
            continue
        if not command:
            continue
        out.print("[bold green]bot>[/] ", end="")
        turn = Turn(text, conversation_id=conversation, channel="cli")
        if command == "/human":
            reply = engine.start_handoff(Turn("", conversation_id=conversation, channel="cli"),
                                         reason="customer_asked")
        else:
            reply = engine.answer(turn)
        _print_reply(reply, conversation)


@app.command()
@_guarded
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (web_host).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (web_port).")] = None,
    site: Annotated[Optional[Path], typer.Option(
        help="Also serve this folder at / (e.g. examples/demo-shop, a page with the widget).",
        exists=True, file_okay=False)] = None,
) -> None:
    """Run the bot's web API and widget (http://HOST:PORT/widget.js, API docs at /docs), and
    the Slack and Discord bots whose tokens are configured."""
    from adapters.platforms import start_chat_adapters
    from adapters.web.server import build_web_app
    from adapters.web.server import serve as run_server

    from linguadesk.logs import configure_logging

    settings = get_settings()
    configure_logging(settings, settings.log_level.upper())
    host = host or settings.web_host
    port = port or settings.web_port
    where = f"http://{host}:{port}"
    err.print(f"Widget: {where}/widget.js · API docs: {where}/docs"
              + (f" · page: {where}/" if site else ""), highlight=False)
    with _ByteProgress() as report:
        web_app, engine, kb = build_web_app(settings, site, report)
    chat = start_chat_adapters(settings, engine, kb, web_app)
    for adapter in chat:
        err.print(f"{adapter.platform}: {adapter.mode}", highlight=False)
    run_server(web_app, engine, settings, host=host, port=port, chat=chat)


@bench_app.command("llm")
@_guarded
def bench_llm(
    url: Annotated[Optional[str], typer.Option(
        help="OpenAI-compatible base URL, e.g. http://vllm:8000/v1 (default: llm_url, else the "
             "embedded llama.cpp server).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model name (default: llm_model).")] = None,
    concurrency: Annotated[list[int], typer.Option(
        help="Conversations at once; repeat for several levels. 1 always runs first as the "
             "baseline.")] = [1, 4],
    requests: Annotated[int, typer.Option(min=1, help="Requests per level.")] = 12,
    max_tokens: Annotated[int, typer.Option(min=1, help="Output tokens per answer at most.")] = 200,
    faq: Annotated[Optional[Path], typer.Option(
        help="FAQ folder the prompts' entries come from (default: examples/shop-faq).",
        exists=True, file_okay=False)] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the results "
                                                     "(with every request) to this file.")] = None,
) -> None:
    """Time to first token and tokens/s of the chat endpoint on the bot's own answer prompts,
    at each concurrency, against concurrency 1 measured in the same run."""
    from openai import OpenAI

    from evaluation import llm_bench
    from bot.llm_server import resolve_endpoint

    settings = get_settings()
    if url:
        base, name, key = url.rstrip("/"), model or settings.llm_model, \
            settings.llm_api_key.get_secret_value()
    else:
        endpoint = resolve_endpoint(settings)  # starts the embedded llama.cpp server
        base, name, key = endpoint.url, model or endpoint.model, endpoint.api_key
    folder = faq or Path(__file__).resolve().parents[2] / "examples" / "shop-faq"
    if not folder.is_dir():
        raise _fail(f"No FAQ folder at {folder}: pass --faq with a folder of FAQ files.")
    levels = [1] + sorted({c for c in concurrency if c > 1})
    client = OpenAI(base_url=base, api_key=key, timeout=settings.llm_timeout_s, max_retries=0)
    err.print(f"Endpoint: {base} · model {name} · {requests} requests per level", highlight=False)
    # One request first, not counted: loading weights or compiling is not answering.
    warm_up = llm_bench.rag_prompts(folder, 1, start=10_000)[0]
    llm_bench.measure(client, name, warm_up, max_tokens=8)
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err) as progress:
        for index, level in enumerate(levels):
            task = progress.add_task(f"concurrency {level}", total=requests)
            prompts = llm_bench.rag_prompts(folder, requests, start=index * requests)
            results.append(llm_bench.run(
                client, name, prompts, concurrency=level, max_tokens=max_tokens,
                on_done=lambda _sample, task=task: progress.advance(task)))
    base_line = results[0]
    table = Table("concurrency", "TTFT p50", "TTFT p95", "tokens/s (all)", "× baseline",
                  "tokens/s per conversation p50", "errors")
    for r in results:
        ratio = (r["aggregate_tokens_per_s"] / base_line["aggregate_tokens_per_s"]
                 if r["aggregate_tokens_per_s"] and base_line["aggregate_tokens_per_s"] else None)
        r["aggregate_vs_baseline"] = None if ratio is None else round(ratio, 2)
        table.add_row(str(r["concurrency"]), _seconds(r["ttft_p50_s"]), _seconds(r["ttft_p95_s"]),
                      _number(r["aggregate_tokens_per_s"]), _number(r["aggregate_vs_baseline"]),
                      _number(r["per_conversation_tokens_per_s_p50"]), str(r["errors"]))
    out.print(table)
    for r in results:
        for error in r["first_errors"]:
            err.print(f"concurrency {r['concurrency']}: {error}", markup=False)
    if json_out:
        json_out.write_text(json.dumps({"url": base, "model": name, "max_tokens": max_tokens,
                                        "levels": results}, indent=2))
    if all(r["errors"] == r["requests"] for r in results):
        raise _fail(f"Every request to {base} failed ({results[0]['first_errors'][0]}). Check "
                    "--url, --model and the server.")


def _seconds(value) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _number(value) -> str:
    return "—" if value is None else f"{value:.1f}"


conversations_app = typer.Typer(help="Conversations: handoffs to people.", no_args_is_help=True)
app.add_typer(conversations_app, name="conversations")


def _conversation_store():
    from bot.conversations import open_conversation_store

    return open_conversation_store(get_settings())


@conversations_app.command("failed")
@_guarded
def conversations_failed(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Turns that got an apology instead of an answer (the LLM or the store was down), for a
    follow-up."""
    from datetime import datetime, timezone

    from bot.failed_turns import open_failed_turn_log

    turns = open_failed_turn_log(get_settings()).read()
    if as_json:
        out.print_json(json.dumps(turns, ensure_ascii=False))
        return
    if not turns:
        out.print("No turn failed.")
    for t in turns:
        when = datetime.fromtimestamp(t["at"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        out.print(f"{when} UTC  {t['conversation']}  [{t['stage']}: {t['error']}]  "
                  f"{t['text']}", markup=False, highlight=False)


@conversations_app.command("list")
@_guarded
def conversations_list() -> None:
    """Conversations a person has (the bot stays quiet in them)."""
    keys = _conversation_store().handed_off()
    if not keys:
        out.print("No conversation is handed off.")
    for key in keys:
        out.print(key, markup=False, highlight=False)


@conversations_app.command("show")
@_guarded
def conversations_show(key: Annotated[str, typer.Argument(help="A conversation key.")]) -> None:
    """The conversation's state and history."""
    store = _conversation_store()
    state = store.state(key)
    out.print(f"language {state.language or '-'}, locked {state.locked_language or '-'}, "
              f"handed off {'yes' if state.handed_off else 'no'}")
    rated = {f.reply_id: f for f in store.feedback(key)}
    for m in store.messages(key):
        out.print(f"{m.role}: {m.text}", markup=False, highlight=False)
        if m.id in rated:
            f = rated[m.id]
            out.print(f"  feedback: {'👍' if f.rating == 'up' else '👎'} {f.comment}".rstrip(),
                      markup=False, highlight=False, emoji=False)


@conversations_app.command("release")
@_guarded
def conversations_release(key: Annotated[str, typer.Argument(help="A conversation key.")]) -> None:
    """Give a handed-off conversation back to the bot."""
    from bot.conversations import release

    if not release(_conversation_store(), key):
        raise _fail(f"{key} is not handed off; 'linguadesk conversations list' shows those that are.", 1)
    out.print(f"Released {key}: the bot answers it again.", markup=False)


# --- evaluation -----------------------------------------------------------------------------

def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _bar_progress(bar: Progress):
    tasks: dict[str, int] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase.capitalize(), total=total)
        bar.update(tasks[phase], completed=done, total=total)

    return progress


def _print_retrieval_report(report: dict) -> None:
    table = Table(title=f"{report['benchmark']}: {report['entries']} entries, "
                        f"{report['queries']} queries (hybrid vs. baseline, same run)")
    for column in ("query lang", "n", "R@1 base", "R@1 hybrid", "×", "R@5 base", "R@5 hybrid",
                   "MRR base", "MRR hybrid", "p50 ms base/hyb", "p95 ms base/hyb", "p95 ×"):
        table.add_column(column, justify="left" if column == "query lang" else "right")
    for language, row in report["languages"].items():
        b, h, r = row["baseline"], row["hybrid"], row["ratio"]
        table.add_row(
            language, str(h["queries"]), _fmt(b["recall@1"]), _fmt(h["recall@1"]),
            _fmt(r["recall@1"], 2), _fmt(b["recall@5"]), _fmt(h["recall@5"]),
            _fmt(b["mrr@10"]), _fmt(h["mrr@10"]),
            f"{_fmt(b['latency_p50_ms'], 1)}/{_fmt(h['latency_p50_ms'], 1)}",
            f"{_fmt(b['latency_p95_ms'], 1)}/{_fmt(h['latency_p95_ms'], 1)}", _fmt(r["latency_p95_ms"], 2),
        )
    out.print(table)
    if "no_match" in report:
        nm = report["no_match"]
        pairs, e2e = nm["pairs"], nm["end_to_end"]
        out.print(f"No-match decision at calibrated relevance >= {nm['threshold']}:")
        out.print(f"  labelled pairs: precision {pairs['precision']:.3f}, recall {pairs['recall']:.3f}, "
                  f"F1 {pairs['f1']:.3f}")
        out.print(f"  answerable queries: {e2e['answered_correctly']}/{e2e['answerable']} answered from "
                  f"the gold entry, {e2e['answered_with_another_entry']} from another entry "
                  f"(precision {e2e['precision']:.3f}, recall {e2e['recall']:.3f})")
        if e2e["off_domain"]:
            out.print(f"  off-domain questions (banking77) refused: "
                      f"{e2e['off_domain_refused']}/{e2e['off_domain']}")
    out.print(f"[dim]{escape(report['attribution'])}[/]")


@eval_app.command("retrieval")
@_guarded
def eval_retrieval(
    benchmark: Annotated[str, typer.Option(help="xquad_r, banking77, arbanking77 or covid_faq_en.")],
    data: Annotated[Optional[Path], typer.Option(help="Folder holding the benchmark folders.")] = None,
    as_json: Annotated[Optional[Path], typer.Option("--json", help="Also write the report here.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N queries (per language).")] = None,
    languages: Annotated[Optional[str], typer.Option(
        help="xquad_r: comma-separated query languages (default: every <lang>.json there).")] = None,
    index_languages: Annotated[str, typer.Option(
        help="xquad_r: candidate languages, comma-separated, or 'all' for the pooled index.")] = "en",
    latency_sample: Annotated[int, typer.Option(help="Queries per language timed end to end.")] = 100,
) -> None:
    """Recall@1/5, MRR and latency per query language, hybrid vs. a plain dense baseline."""
    from runtime import load_reranker
    from evaluation import benchmarks
    from evaluation.retrieval import evaluate

    root = data or benchmarks.default_root()
    options = {}
    if benchmark == "xquad_r":
        if languages:
            options["query_languages"] = tuple(x.strip() for x in languages.split(",") if x.strip())
        options["index_languages"] = (None if index_languages == "all"
                                      else tuple(x.strip() for x in index_languages.split(",")))
    try:
        evalset = benchmarks.load(benchmark, root, limit, **options)
    except benchmarks.BenchmarkError as exc:
        raise _fail(str(exc)) from None
    settings = get_settings()
    with _ByteProgress() as report_models:
        from retrieval.embeddings import load_embeddings
        from retrieval.use_encoder import load_use_encoder

        load_embeddings(settings, report_models)
        if settings.use_encoder:
            load_use_encoder(settings, report_models)
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as bar:
        progress = _bar_progress(bar)
        reranker = load_reranker(settings)
        report = evaluate(settings, evalset, progress=progress, latency_sample=latency_sample,
                          use_encoder=settings.use_encoder, lexical=settings.lexical_search,
                          reranker=reranker)
    report["command"] = "linguadesk eval retrieval " + " ".join(sys.argv[3:])
    features = report.get("no_match", {}).pop("_features", None)
    _print_retrieval_report(report)
    if as_json:
        if features is not None:
            report["no_match"]["features"] = features
        as_json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        out.print(f"Report written to {as_json}")


def _print_language_report(report: dict) -> None:
    table = Table(title=f"Reply language = customer language ({report['overall']['questions']} "
                        "questions, each the first turn of its own conversation)")
    for column in ("lang", "n", "match", "generated", "match (generated)", "English leaks",
                   "FAQ answered", "cited expected", "statuses", "p50 s"):
        table.add_column(column, justify="left" if column in ("lang", "statuses") else "right")
    rows = [*report["languages"].items(), ("all", report["overall"])]
    for language, row in rows:
        table.add_row(language, str(row["questions"]), _fmt(row["match"]), str(row["generated"]),
                      _fmt(row["match_generated"]), str(row["english_leaks"]),
                      f"{row['faq_answered']}/{row['faq']}", f"{row['faq_cited_expected']}/{row['faq']}",
                      ", ".join(f"{k} {v}" for k, v in sorted(row["statuses"].items())),
                      _fmt(row["p50_s"], 1))
    out.print(table)
    if report["failures"]:
        out.print(f"[bold]Failures ({len(report['failures'])}):[/]")
        for f in report["failures"]:
            out.print(f"  {f['id']} ({f['language']} → detected {f['detected']}, share "
                      f"{f['share']:.2f}, {f['status']}): {f['question']}", markup=False)
            out.print(f"     {' '.join(f['reply'].split())[:300]}", style="dim", markup=False)


def _print_dstc_report(report: dict) -> None:
    table = Table(title=f"{report['benchmark']} ({report['split']}): {report['turns']} "
                        f"knowledge-seeking turns, {report['entries']} FAQ snippets")
    for column in ("retrieval query", "R@1", "R@5", "MRR@10"):
        table.add_column(column, justify="left" if column == "retrieval query" else "right")
    names = {"last_turn": "last turn only", "rewrite": "follow-up rewriting (engine)",
             "concatenated": "customer turns concatenated (reference)"}
    for key, label in names.items():
        row = report["systems"][key]
        table.add_row(label, _fmt(row["recall@1"]), _fmt(row["recall@5"]), _fmt(row["mrr@10"]))
    out.print(table)
    out.print(f"Rewriting vs. last turn: {report['gain_recall@5_points']:+.1f} points recall@5; "
              f"{report['rewritten_turns']}/{report['turns']} turns went to the LLM "
              f"(p50 {_fmt(report['rewrite_p50_s'], 2)} s, p95 {_fmt(report['rewrite_p95_s'], 2)} s).")
    out.print("[dim]DSTC11 track 5 (alexa/dstc11-track5), CDLA-Sharing-1.0.[/]")


@eval_app.command("conversation")
@_guarded
def eval_conversation(
    benchmark: Annotated[str, typer.Option(
        help="language_set (reply language, 10 languages) or dstc11_track5 (follow-up rewriting).")
    ] = "language_set",
    test_set: Annotated[Optional[Path], typer.Option(
        "--set", help="language_set: the test set JSON.")] = None,
    faq: Annotated[Optional[Path], typer.Option(
        help="language_set: the FAQ the bot answers from.")] = None,
    data: Annotated[Optional[Path], typer.Option(help="dstc11_track5: folder holding it.")] = None,
    languages: Annotated[Optional[str], typer.Option(help="language_set: only these, comma-separated.")] = None,
    limit: Annotated[Optional[int], typer.Option(
        help="language_set: first N per language; dstc11_track5: N turns spread over the file.")] = None,
    as_json: Annotated[Optional[Path], typer.Option("--json", help="Also write the report here.")] = None,
) -> None:
    """Reply-language match with the real LLM, or DSTC11 recall@5 with vs. without rewriting."""
    from evaluation import conversation as evaluation

    root = Path(__file__).resolve().parents[2]
    settings = get_settings()
    _ensure_llm(settings)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                      TimeRemainingColumn(), console=err, transient=True) as bar:
            progress = _bar_progress(bar)
            if benchmark == "language_set":
                questions = evaluation.load_language_set(
                    test_set or root / "benchmarks" / "conversation" / "language_set.json")
                questions = evaluation.select_questions(questions, languages, limit)
                engine, _, scratch = evaluation.eval_engine(
                    settings, faq or root / "examples" / "shop-faq")
                try:
                    report = evaluation.language_match(engine, questions, progress=progress)
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
            elif benchmark == evaluation.DSTC_NAME:
                from bot.llm import make_chat_model, server_kind, with_preset
                from bot.rewrite import QueryRewriter
                from evaluation import benchmarks

                llm = with_preset(make_chat_model(settings), settings.preset_rewrite,
                                  server_kind(settings))
                report = evaluation.dstc_rewrite(settings, data or benchmarks.default_root(),
                                                 QueryRewriter(llm), limit=limit or 300,
                                                 progress=progress)
            else:
                raise _fail(f"Unknown benchmark {benchmark!r}: use language_set or dstc11_track5.")
    except evaluation.EvaluationError as exc:
        raise _fail(str(exc)) from None
    report["command"] = "linguadesk eval conversation " + " ".join(sys.argv[3:])
    if benchmark == "language_set":
        _print_language_report(report)
    else:
        _print_dstc_report(report)
    if as_json:
        as_json.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
        out.print(f"Report written to {as_json}")


@eval_app.command("answers")
@_guarded
def eval_answers(
    test_set: Annotated[str, typer.Option(
        "--set", help="shop (the shop answer set), language_set, covid_faq_en, or a JSON file.")
    ] = "shop",
    faq: Annotated[Optional[Path], typer.Option(help="The FAQ the bot answers from.")] = None,
    data: Annotated[Optional[Path], typer.Option(help="covid_faq_en: folder holding it.")] = None,
    languages: Annotated[Optional[str], typer.Option(help="Only these, comma-separated.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="The first N questions per language.")] = None,
    compare: Annotated[bool, typer.Option(
        help="Also run the legacy answer path on the same questions (the baseline).")] = False,
    as_json: Annotated[Optional[Path], typer.Option("--json", help="Also write the report here.")] = None,
) -> None:
    """Is each reply right: right entry, faithful figures, clean, one language, no false claim?"""
    from evaluation import answers as answer_eval, conversation as evaluation

    root = Path(__file__).resolve().parents[2]
    settings = get_settings()
    _ensure_llm(settings)
    scratch_faq = None
    try:
        if test_set == "covid_faq_en":
            from evaluation import benchmarks

            markdown, questions = answer_eval.covid_questions(data or benchmarks.default_root(),
                                                              limit)
            scratch_faq = Path(tempfile.mkdtemp(prefix="linguadesk-covid-")) / "covid_faq_en.md"
            scratch_faq.write_text(markdown, encoding="utf-8")
            faq = scratch_faq
        else:
            path = {"shop": root / "benchmarks" / "answers" / "shop_answer_set.json",
                    "language_set": root / "benchmarks" / "conversation" / "language_set.json",
                    }.get(test_set, Path(test_set))
            questions = evaluation.select_questions(answer_eval.load_answer_set(path),
                                                    languages, limit)
        engine, store, scratch = evaluation.eval_engine(
            settings, faq or root / "examples" / "shop-faq")
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                          TimeRemainingColumn(), console=err, transient=True) as bar:
                report = answer_eval.evaluate(engine, store, questions, compare=compare,
                                              progress=_bar_progress(bar),
                                              min_confidence=settings.min_confidence)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except evaluation.EvaluationError as exc:
        raise _fail(str(exc)) from None
    finally:
        if scratch_faq is not None:
            shutil.rmtree(scratch_faq.parent, ignore_errors=True)
    if test_set == "covid_faq_en":
        for system in report["systems"].values():
            system["reference"] = answer_eval.reference_figures(system["rows"], questions)
    report["set"] = test_set
    report["command"] = "linguadesk eval answers " + " ".join(sys.argv[3:])
    if as_json:  # first: a long run's rows are kept whatever the printing does
        as_json.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    _print_answers_report(report)
    if as_json:
        out.print(f"Report written to {as_json}")


def _ensure_llm(settings) -> None:
    """The embedded model's file, fetched (with a progress bar) when no server is configured."""
    with _ByteProgress() as report_models:
        from bot.llm_server import ensure_llm_gguf

        if not settings.llm_url:
            ensure_llm_gguf(settings, report_models)


def _print_answers_report(report: dict) -> None:
    systems = report["systems"]
    table = Table(title=f"eval answers · {report['set']} · correct-answer rate per language "
                        f"({' vs '.join(systems)}, same run)")
    table.add_column("lang")
    table.add_column("n", justify="right")
    for name in systems:
        for column in ("correct", "source", "faithful", "clean", "one lang", "claim",
                       "first text p50 s", "paths"):
            table.add_column(f"{column}" if len(systems) == 1 else f"{column} ({name[:3]})",
                             justify="right")
    first = next(iter(systems.values()))
    for language in [*first["languages"], "overall"]:
        cells = [language, str((first["overall"] if language == "overall"
                                else first["languages"][language])["questions"])]
        for system in systems.values():
            row = system["overall"] if language == "overall" else system["languages"][language]
            paths = " ".join(f"{k}:{v}" for k, v in sorted(row["paths"].items()))
            cells += [_fmt(row["correct"]), _fmt(row["source"]), _fmt(row["faithful"]),
                      _fmt(row["clean"]), _fmt(row["one_language"]), _fmt(row["claim"]),
                      _fmt(row["first_text_p50_s"], 1), paths]
        table.add_row(*cells, style="bold" if language == "overall" else None)
    out.print(table)
    for name, system in systems.items():
        o = system["overall"]
        out.print(f"{name}: marker/tag leaks {o['marker_or_tag_leaks']}, figure mismatches "
                  f"{o['figure_mismatches']}, wrong polarity {o['wrong_polarity']}, over-refusal "
                  f"{_fmt(o['over_refusal'])}, unanswerable declined "
                  f"{_fmt(o['unanswerable_declined'])}; first text p50/p95 "
                  f"{o['first_text_p50_s']}/{o['first_text_p95_s']} s, full reply p50/p95 "
                  f"{o['reply_p50_s']}/{o['reply_p95_s']} s")
        if "reference" in system:
            ref = system["reference"]
            out.print(f"  reference figures kept: {ref['kept']}/{ref['reference_figures']} "
                      f"({_fmt(ref['coverage'])})")
        for row in system["failures"][:40]:
            out.print(f"  [red]✗[/] {escape(row['id'])} {escape(row['question'][:60])!s} → "
                      f"{escape(row['reply'][:90])!s}  [dim]{escape('; '.join(row['reasons'])[:160])}[/]")
        if len(system["failures"]) > 40:
            out.print(f"  … {len(system['failures']) - 40} more in --json")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
