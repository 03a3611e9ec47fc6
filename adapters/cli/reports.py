"""The tables of ``linguadesk eval``: one printer per report."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from .console import fmt, out


def print_retrieval_report(report: dict) -> None:
    translated = any("translated" in row for row in report["languages"].values())
    systems = ["baseline", "hybrid", *(["translated"] if translated else [])]
    short = {"baseline": "base", "hybrid": "hyb", "translated": "tr"}
    names = "/".join(short[s] for s in systems)
    table = Table(
        title=f"{report['benchmark']}: {report['entries']} entries, "
        f"{report['queries']} queries ({', '.join(systems)}: same run)"
    )
    columns = ["query lang", "n"]
    for metric in ("R@1", "R@5"):
        columns += [f"{metric} {short[s]}" for s in systems]
    columns += [f"R@1 × {short[s]}" for s in systems[1:]]
    columns += [f"MRR {short[s]}" for s in systems]
    columns += [f"p50 ms {names}", f"p95 ms {names}"]
    columns += [f"p95 × {short[s]}" for s in systems[1:]]
    for column in columns:
        table.add_column(column, justify="left" if column == "query lang" else "right")
    for language, row in report["languages"].items():
        ratios = {"hybrid": row["ratio"], "translated": row.get("ratio_translated", {})}
        cells = [language, str(row["hybrid"]["queries"])]
        for metric in ("recall@1", "recall@5"):
            cells += [fmt(row[s][metric]) for s in systems]
        cells += [fmt(ratios[s]["recall@1"], 2) for s in systems[1:]]
        cells += [fmt(row[s]["mrr@10"]) for s in systems]
        for stat in ("latency_p50_ms", "latency_p95_ms"):
            cells.append("/".join(fmt(row[s][stat], 1) for s in systems))
        cells += [fmt(ratios[s]["latency_p95_ms"], 2) for s in systems[1:]]
        table.add_row(*cells)
    out.print(table)
    for language, info in report.get("translation", {}).get("languages", {}).items():
        out.print(
            f"Translated index {language}: {info['entries']} of {info.get('of', '?')} entries "
            f"({info['failed']} failed "
            f"the checks) in {info['seconds']:.0f} s of LLM time, "
            f"{fmt(info['entries_per_minute'], 1)} entries/min ({report['translation']['model']})",
            highlight=False,
        )
    for key, label in (("no_match", "hybrid"), ("no_match_translated", "with translated views")):
        if key not in report:
            continue
        nm = report[key]
        pairs, e2e = nm["pairs"], nm["end_to_end"]
        out.print(f"No-match decision at calibrated relevance >= {nm['threshold']} ({label}):")
        out.print(
            f"  labelled pairs: precision {pairs['precision']:.3f}, "
            f"recall {pairs['recall']:.3f}, F1 {pairs['f1']:.3f}"
        )
        out.print(
            f"  answerable queries: {e2e['answered_correctly']}/{e2e['answerable']} "
            f"answered from the gold entry, {e2e['answered_with_another_entry']} from "
            f"another entry (precision {e2e['precision']:.3f}, "
            f"recall {e2e['recall']:.3f})"
        )
        if e2e["off_domain"]:
            out.print(
                f"  off-domain questions (banking77) refused: "
                f"{e2e['off_domain_refused']}/{e2e['off_domain']}"
            )
    out.print(f"[dim]{escape(report['attribution'])}[/]")


def print_language_report(report: dict) -> None:
    table = Table(
        title=f"Reply language = customer language ({report['overall']['questions']} "
        "questions, each the first turn of its own conversation)"
    )
    for column in (
        "lang",
        "n",
        "match",
        "generated",
        "match (generated)",
        "English leaks",
        "FAQ answered",
        "cited expected",
        "statuses",
        "p50 s",
    ):
        table.add_column(column, justify="left" if column in ("lang", "statuses") else "right")
    for language, row in [*report["languages"].items(), ("all", report["overall"])]:
        table.add_row(
            language,
            str(row["questions"]),
            fmt(row["match"]),
            str(row["generated"]),
            fmt(row["match_generated"]),
            str(row["english_leaks"]),
            f"{row['faq_answered']}/{row['faq']}",
            f"{row['faq_cited_expected']}/{row['faq']}",
            ", ".join(f"{k} {v}" for k, v in sorted(row["statuses"].items())),
            fmt(row["p50_s"], 1),
        )
    out.print(table)
    if report["failures"]:
        out.print(f"[bold]Failures ({len(report['failures'])}):[/]")
        for f in report["failures"]:
            out.print(
                f"  {f['id']} ({f['language']} → detected {f['detected']}, share "
                f"{f['share']:.2f}, {f['status']}): {f['question']}",
                markup=False,
            )
            out.print(f"     {' '.join(f['reply'].split())[:300]}", style="dim", markup=False)


def print_dstc_report(report: dict) -> None:
    table = Table(
        title=f"{report['benchmark']} ({report['split']}): {report['turns']} "
        f"knowledge-seeking turns, {report['entries']} FAQ snippets"
    )
    for column in ("retrieval query", "R@1", "R@5", "MRR@10"):
        table.add_column(column, justify="left" if column == "retrieval query" else "right")
    names = {
        "last_turn": "last turn only",
        "rewrite": "follow-up rewriting (engine)",
        "concatenated": "customer turns concatenated (reference)",
    }
    for key, label in names.items():
        row = report["systems"][key]
        table.add_row(label, fmt(row["recall@1"]), fmt(row["recall@5"]), fmt(row["mrr@10"]))
    out.print(table)
    out.print(
        f"Rewriting vs. last turn: {report['gain_recall@5_points']:+.1f} points recall@5; "
        f"{report['rewritten_turns']}/{report['turns']} turns went to the LLM "
        f"(p50 {fmt(report['rewrite_p50_s'], 2)} s, "
        f"p95 {fmt(report['rewrite_p95_s'], 2)} s)."
    )
    out.print("[dim]DSTC11 track 5 (alexa/dstc11-track5), CDLA-Sharing-1.0.[/]")


def print_answers_report(report: dict) -> None:
    systems = report["systems"]
    table = Table(
        title=f"eval answers · {report['set']} · correct-answer rate per language "
        f"({' vs '.join(systems)}, same run)"
    )
    table.add_column("lang")
    table.add_column("n", justify="right")
    for name in systems:
        for column in (
            "correct",
            "source",
            "faithful",
            "clean",
            "one lang",
            "claim",
            "first text p50 s",
            "paths",
        ):
            table.add_column(
                f"{column}" if len(systems) == 1 else f"{column} ({name[:3]})", justify="right"
            )
    first = next(iter(systems.values()))
    for language in [*first["languages"], "overall"]:
        cells = [
            language,
            str(
                (first["overall"] if language == "overall" else first["languages"][language])[
                    "questions"
                ]
            ),
        ]
        for system in systems.values():
            row = system["overall"] if language == "overall" else system["languages"][language]
            paths = " ".join(f"{k}:{v}" for k, v in sorted(row["paths"].items()))
            cells += [
                fmt(row["correct"]),
                fmt(row["source"]),
                fmt(row["faithful"]),
                fmt(row["clean"]),
                fmt(row["one_language"]),
                fmt(row["claim"]),
                fmt(row["first_text_p50_s"], 1),
                paths,
            ]
        table.add_row(*cells, style="bold" if language == "overall" else None)
    out.print(table)
    for name, system in systems.items():
        _print_system_summary(name, system)


def _print_system_summary(name: str, system: dict) -> None:
    o = system["overall"]
    out.print(
        f"{name}: marker/tag leaks {o['marker_or_tag_leaks']}, figure mismatches "
        f"{o['figure_mismatches']}, wrong polarity {o['wrong_polarity']}, over-refusal "
        f"{fmt(o['over_refusal'])}, unanswerable declined "
        f"{fmt(o['unanswerable_declined'])}; first text p50/p95 "
        f"{o['first_text_p50_s']}/{o['first_text_p95_s']} s, full reply p50/p95 "
        f"{o['reply_p50_s']}/{o['reply_p95_s']} s"
    )
    if o.get("first_text_p50_untranslated_s") or o.get("first_text_p50_translated_s"):
        out.print(
            "  first text p50 of answers from an entry in the customer's language or cached: "
            f"{o.get('first_text_p50_untranslated_s')} s; translated in the turn: "
            f"{o.get('first_text_p50_translated_s')} s"
        )
    if "reference" in system:
        ref = system["reference"]
        out.print(
            f"  reference figures kept: {ref['kept']}/{ref['reference_figures']} "
            f"({fmt(ref['coverage'])})"
        )
    for row in system["failures"][:40]:
        out.print(
            f"  [red]✗[/] {escape(row['id'])} {escape(row['question'][:60])!s} → "
            f"{escape(row['reply'][:90])!s}  "
            f"[dim]{escape('; '.join(row['reasons'])[:160])}[/]"
        )
    if len(system["failures"]) > 40:
        out.print(f"  … {len(system['failures']) - 40} more in --json")
