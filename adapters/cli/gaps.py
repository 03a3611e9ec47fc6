"""``linguadesk gaps``: the questions the FAQ did not answer, grouped by meaning across
languages; ``gaps draft`` writes an entry for a group, ``gaps approve`` adds it to the FAQ."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.gaps import (
    APPROVED_SOURCE,
    GapCluster,
    GapMiner,
    approval_problems,
    as_markdown,
    since_time,
)
from knowledge.admin import KnowledgeBase
from linguadesk.settings import get_settings
from runtime import build_engine, build_gap_miner, build_knowledge_base

from .console import err, fail, guarded, out

app = typer.Typer(
    help="Coverage gaps: what customers asked that the FAQ did not answer.",
    invoke_without_command=True,
)

Since = Annotated[
    str, typer.Option("--since", help="Only this recent: 30m, 24h, 7d, 2w. Default: all kept.")
]
Language = Annotated[
    str, typer.Option("--language", help="Only questions in this language (ja, de, …).")
]
AdminLanguage = Annotated[
    str,
    typer.Option("--admin-language", help="Translate the questions into this language."),
]


def _miner() -> tuple[GapMiner, KnowledgeBase]:
    settings = get_settings()
    kb = build_knowledge_base(settings)
    engine = build_engine(settings, store=kb.store)
    return build_gap_miner(engine, kb.store, settings), kb


def _since(period: str) -> float:
    try:
        return since_time(period)
    except ValueError as exc:
        raise fail(f"--since: {exc}") from None


@app.callback()
@guarded
def gaps(
    context: typer.Context,
    since: Since = "",
    language: Language = "",
    admin_language: AdminLanguage = "en",
    translate: Annotated[
        bool,
        typer.Option(
            "--translate/--no-translate",
            help="Translate the representative questions (the LLM; slow on the CPU model).",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The gaps, biggest first: size, languages, channels, why, the questions (translated),
    and the closest entry the FAQ has."""
    if context.invoked_subcommand is not None:
        return
    miner, _ = _miner()
    with err.status("Grouping the unanswered questions…"):
        clusters = miner.clusters(
            since=_since(since),
            language=language,
            admin_language=admin_language,
            translate=translate,
        )
    if as_json:
        out.print_json(json.dumps([c.as_json() for c in clusters], ensure_ascii=False))
        return
    if not clusters:
        out.print("No gaps: no question went unanswered twice in this period.")
        return
    out.print(_table(clusters))
    out.print(
        "Draft an entry for one: linguadesk gaps draft ID; approve it: linguadesk gaps "
        "approve --question … --answer …"
    )


def _table(clusters: list[GapCluster]) -> Table:
    biggest = max(c.size for c in clusters)
    table = Table(title="Questions the FAQ did not answer")
    for column in ("id", "asked", "", "languages", "channels", "why", "questions", "closest"):
        table.add_column(column, overflow="fold")
    for c in clusters:
        bar = "█" * max(1, round(12 * c.size / biggest))
        questions = Text()
        for n, q in enumerate(c.questions):
            translated = c.translations[n] if n < len(c.translations) else ""
            questions.append(q)
            if translated and translated != q:
                questions.append(f"\n  → {translated}", style="dim")
            questions.append("\n")
        closest = f"{c.closest['title']} ({c.closest['relevance']:.2f})" if c.closest else "—"
        table.add_row(
            c.id,
            str(c.size),
            Text(bar, style="cyan"),
            ", ".join(f"{k} {v}" for k, v in c.languages.most_common()),
            ", ".join(f"{k} {v}" for k, v in c.channels.most_common()),
            ", ".join(f"{k} {v}" for k, v in c.reasons.most_common()),
            questions,
            Text(closest),
        )
    return table


@app.command("draft")
@guarded
def gaps_draft(
    cluster: Annotated[str, typer.Argument(help="A gap's id, from `linguadesk gaps`.")],
    since: Since = "",
    language: Language = "",
    admin_language: AdminLanguage = "en",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """An FAQ entry drafted by the LLM for one gap. Its facts are placeholders in [brackets]:
    check and fill them, then approve it."""
    miner, _ = _miner()
    try:
        with err.status("Drafting…"):
            made = miner.draft(
                cluster, since=_since(since), language=language, admin_language=admin_language
            )
    except LookupError:
        raise fail(
            f"No gap {cluster} in this period; run `linguadesk gaps` for the current ids."
        ) from None
    if as_json:
        out.print_json(json.dumps(made.as_json(), ensure_ascii=False))
        return
    out.print("[bold yellow]Draft — check the facts[/]")
    out.print(as_markdown(made.question, made.variants, made.answer), markup=False)
    variants = " ".join(f"--variant {json.dumps(v, ensure_ascii=False)}" for v in made.variants)
    out.print(
        "Approve it, edited: linguadesk gaps approve --question "
        f'{json.dumps(made.question, ensure_ascii=False)} {variants} --answer "…"',
        markup=False,
    )


@app.command("approve")
@guarded
def gaps_approve(
    question: Annotated[str, typer.Option("--question", help="The entry's question.")],
    answer: Annotated[str, typer.Option("--answer", help="The answer, facts checked.")],
    variant: Annotated[
        list[str] | None, typer.Option("--variant", help="Another way customers ask it.")
    ] = None,
) -> None:
    """Adds the entry to the FAQ (source gaps:approved), through the usual sync."""
    problems = approval_problems(question, answer)
    if problems:
        raise fail("Not approved: " + "; ".join(problems) + ".")
    kb: KnowledgeBase = build_knowledge_base(get_settings())
    report = kb.add_entry(APPROVED_SOURCE, as_markdown(question, variant or [], answer))
    if not report.ok:
        raise fail("; ".join(str(e) for e in report.errors))
    out.print(f"Added to {APPROVED_SOURCE}: {question}", markup=False)
