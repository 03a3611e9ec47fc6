"""``linguadesk eval``: retrieval, reply language and answer quality on benchmarks.

Each command runs one function of :mod:`evaluation` and prints its report. Those modules load
chromadb, torch and the LLM client, so each command imports its own when it runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from evaluation import benchmarks
from linguadesk.settings import Settings, get_settings
from runtime import ensure_llm, load_encoders

from .console import (
    ModelProgress,
    Reporter,
    command_line,
    fail,
    guarded,
    out,
    phase_reporter,
    progress_bar,
    write_json,
)
from .reports import (
    print_answers_report,
    print_dstc_report,
    print_language_report,
    print_retrieval_report,
)

app = typer.Typer(help="Measure the bot on public benchmarks.", no_args_is_help=True)


def _run_with_llm(run: Callable[[Settings, Reporter], dict[str, Any]]) -> dict[str, Any]:
    """An eval that needs the LLM: fetch or start it under the download bar, then run under the
    phase bar; a bad set or file ends the command with its message."""
    from evaluation.conversation import EvaluationError  # loads the engine: chromadb, torch

    settings = get_settings()
    with ModelProgress() as report_models:
        ensure_llm(settings, report_models)
    try:
        with progress_bar() as bar:
            return run(settings, phase_reporter(bar))
    except EvaluationError as exc:
        raise fail(str(exc)) from None


def _languages(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


@app.command("retrieval")
@guarded
def eval_retrieval(
    benchmark: Annotated[
        str, typer.Option(help="xquad_r, banking77, arbanking77 or covid_faq_en.")
    ],
    data: Annotated[Path | None, typer.Option(help="Folder holding the benchmark folders.")] = None,
    as_json: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Only the first N queries (per language).")
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(
            help="xquad_r: comma-separated query languages (default: every <lang>.json there)."
        ),
    ] = None,
    index_languages: Annotated[
        str,
        typer.Option(
            help="xquad_r: candidate languages, comma-separated, or 'all' for the pooled index."
        ),
    ] = "en",
    latency_sample: Annotated[
        int, typer.Option(help="Queries per language timed end to end.")
    ] = 100,
    translate_index: Annotated[
        str | None,
        typer.Option(
            help="Also the hybrid over entries translated into these languages (comma-"
            "separated), by the LLM; cached under the data dir."
        ),
    ] = None,
    cached_only: Annotated[
        bool,
        typer.Option(
            "--cached-only",
            help="With --translate-index: only the translations made by earlier runs; "
            "entries not translated yet get no views.",
        ),
    ] = False,
) -> None:
    """Recall@1/5, MRR and latency per query language, hybrid vs. a plain dense baseline
    (and, with --translate-index, the hybrid with translated views, in the same run)."""
    from evaluation import retrieval  # loads chromadb and torch

    options: dict = {}
    if benchmark == "xquad_r":
        if languages:
            options["query_languages"] = _languages(languages)
        options["index_languages"] = (
            None
            if index_languages == "all"
            else tuple(x.strip() for x in index_languages.split(","))
        )
    try:
        evalset = benchmarks.load(benchmark, data or benchmarks.default_root(), limit, **options)
    except benchmarks.BenchmarkError as exc:
        raise fail(str(exc)) from None
    settings = get_settings()
    with ModelProgress() as report_models:
        load_encoders(settings, report_models)
        if translate_index:
            ensure_llm(settings, report_models)
    with progress_bar() as bar:
        report = retrieval.run_eval(
            settings,
            evalset,
            latency_sample=latency_sample,
            progress=phase_reporter(bar),
            translate_index=_languages(translate_index or ""),
            cached_only=cached_only,
        )
    report["command"] = command_line("eval retrieval")
    print_retrieval_report(report)
    if as_json:
        write_json(as_json, report, indent=2)
        out.print(f"Report written to {as_json}")


@app.command("conversation")
@guarded
def eval_conversation(
    benchmark: Annotated[
        str,
        typer.Option(
            help="language_set (reply language, 10 languages) or dstc11_track5 (follow-up "
            "rewriting)."
        ),
    ] = "language_set",
    test_set: Annotated[
        Path | None, typer.Option("--set", help="language_set: the test set JSON.")
    ] = None,
    faq: Annotated[
        Path | None, typer.Option(help="language_set: the FAQ the bot answers from.")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="dstc11_track5: folder holding it.")] = None,
    languages: Annotated[
        str | None, typer.Option(help="language_set: only these, comma-separated.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="language_set: first N per language; dstc11_track5: N turns spread over the file."
        ),
    ] = None,
    as_json: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
) -> None:
    """Reply-language match with the real LLM, or DSTC11 recall@5 with vs. without rewriting."""
    from evaluation import conversation  # loads the engine: chromadb, torch, langchain

    report = _run_with_llm(
        lambda settings, progress: conversation.run_eval(
            settings,
            benchmark,
            test_set=test_set,
            faq=faq,
            data=data,
            languages=languages,
            limit=limit,
            progress=progress,
        )
    )
    report["command"] = command_line("eval conversation")
    if report["benchmark"] == "language_set":
        print_language_report(report)
    else:
        print_dstc_report(report)
    if as_json:
        write_json(as_json, report)
        out.print(f"Report written to {as_json}")


@app.command("answers")
@guarded
def eval_answers(
    test_set: Annotated[
        str,
        typer.Option(
            "--set", help="shop (the shop answer set), language_set, covid_faq_en, or a JSON file."
        ),
    ] = "shop",
    faq: Annotated[Path | None, typer.Option(help="The FAQ the bot answers from.")] = None,
    data: Annotated[Path | None, typer.Option(help="covid_faq_en: folder holding it.")] = None,
    languages: Annotated[str | None, typer.Option(help="Only these, comma-separated.")] = None,
    limit: Annotated[int | None, typer.Option(help="The first N questions per language.")] = None,
    compare: Annotated[
        bool,
        typer.Option(help="Also run the legacy answer path on the same questions (the baseline)."),
    ] = False,
    as_json: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
) -> None:
    """Is each reply right: right entry, faithful figures, clean, one language, no false claim?"""
    from evaluation import answers  # loads the engine: chromadb, torch, langchain

    report = _run_with_llm(
        lambda settings, progress: answers.run_eval(
            settings,
            test_set,
            faq=faq,
            data=data,
            languages=languages,
            limit=limit,
            compare=compare,
            progress=progress,
        )
    )
    report["command"] = command_line("eval answers")
    if as_json:  # first: a long run's rows are kept whatever the printing does
        write_json(as_json, report)
    print_answers_report(report)
    if as_json:
        out.print(f"Report written to {as_json}")
