"""``linguadesk bench``: how fast the chat endpoint answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from evaluation.paths import SHOP_FAQ, repository_path
from linguadesk.settings import get_settings

from .console import err, fail, guarded, out, phase_reporter, progress_bar, write_json

app = typer.Typer(help="Measure speed.", no_args_is_help=True)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _print_levels(levels: list[dict]) -> None:
    table = Table(
        "concurrency",
        "TTFT p50",
        "TTFT p95",
        "tokens/s (all)",
        "× baseline",
        "tokens/s per conversation p50",
        "errors",
    )
    for r in levels:
        table.add_row(
            str(r["concurrency"]),
            _seconds(r["ttft_p50_s"]),
            _seconds(r["ttft_p95_s"]),
            _number(r["aggregate_tokens_per_s"]),
            _number(r["aggregate_vs_baseline"]),
            _number(r["per_conversation_tokens_per_s_p50"]),
            str(r["errors"]),
        )
    out.print(table)
    for r in levels:
        for error in r["first_errors"]:
            err.print(f"concurrency {r['concurrency']}: {error}", markup=False)


@app.command("llm")
@guarded
def bench_llm(
    url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible base URL, e.g. http://vllm:8000/v1 (default: llm_url, else the "
            "embedded llama.cpp server)."
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name (default: llm_model).")] = None,
    concurrency: Annotated[
        list[int],
        typer.Option(
            help="Conversations at once; repeat for several levels. 1 always runs first as the "
            "baseline."
        ),
    ] = [1, 4],  # noqa: B006 - read, never changed
    requests: Annotated[int, typer.Option(min=1, help="Requests per level.")] = 12,
    max_tokens: Annotated[int, typer.Option(min=1, help="Output tokens per answer at most.")] = 200,
    faq: Annotated[
        Path | None,
        typer.Option(
            help="FAQ folder the prompts' entries come from (default: examples/shop-faq).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the results (with every request) to this file."),
    ] = None,
) -> None:
    """Time to first token and tokens/s of the chat endpoint on the bot's own answer prompts,
    at each concurrency, against concurrency 1 measured in the same run."""
    # evaluation.llm_bench loads openai and langchain (about a second): not for --help.
    from evaluation import llm_bench

    settings = get_settings()
    folder = faq or repository_path(SHOP_FAQ)
    target = llm_bench.endpoint(settings, url, model)  # may start the embedded llama.cpp server
    err.print(
        f"Endpoint: {target.url} · model {target.model} · {requests} requests per level",
        highlight=False,
    )
    with progress_bar("count", transient=False) as bar:
        report = llm_bench.run_levels(
            settings,
            target,
            folder,
            concurrency,
            requests=requests,
            max_tokens=max_tokens,
            progress=phase_reporter(bar, name=str),
        )
    levels = report["levels"]
    _print_levels(levels)
    if json_out:
        write_json(json_out, report, indent=2, ensure_ascii=True)
    if all(r["errors"] == r["requests"] for r in levels):
        raise fail(
            f"Every request to {target.url} failed ({levels[0]['first_errors'][0]}). "
            "Check --url, --model and the server."
        )
