"""``/kb status|ingest|delete|search|gaps|release`` from a chat (Slack or Discord): the same
:class:`knowledge.admin.KnowledgeBase` calls as the CLI and the admin API, answered in the
admin's language. Platform adapters check who may use it and fetch attached files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.gaps import GapLog, GapMiner, since_time
from bot.messages import message
from knowledge.admin import IngestReport, KnowledgeBase
from knowledge.remote import is_url

if TYPE_CHECKING:
    from bot.engine import Engine, HitSource
    from linguadesk.settings import Settings

log = logging.getLogger(__name__)

ACTIONS = ("status", "ingest", "delete", "search", "gaps", "release")
GAPS_LISTED = 5
MAX_SOURCES_LISTED = 15
SEARCH_RESULTS = 5


def gap_miner(engine: Engine, kb: KnowledgeBase, settings: Settings) -> GapMiner:
    """The gaps of the engine's conversations, searched and drafted with its retriever and
    model, grouped by the store's cross-lingual encoder."""
    return GapMiner(
        engine.gaps or GapLog(settings.data_dir / "gaps.jsonl", settings.redis),
        kb.store.encode_across_languages,
        engine.retriever,
        engine.team.translator,
        lambda: engine.model("answer"),
    )


@dataclass(frozen=True)
class KbRequest:
    action: str  # one of ACTIONS, or "help"
    argument: str = ""


def parse(text: str) -> KbRequest:
    """``"ingest https://…"`` → KbRequest("ingest", "https://…"); anything else asks for help."""
    action, _, argument = (text or "").strip().partition(" ")
    action = action.lower()
    # Slack wraps links as <https://…> or <https://…|label>.
    argument = argument.strip()
    if argument.startswith("<") and argument.endswith(">"):
        argument = argument[1:-1].split("|", 1)[0]
    return KbRequest(action if action in ACTIONS else "help", argument)


class KbCommands:
    def __init__(
        self,
        kb: KnowledgeBase,
        retriever: HitSource,
        *,
        allow_private_urls: bool = False,
        gaps: GapMiner | None = None,
        escape: Callable[[str], str] = lambda text: text,
    ):
        """``retriever``: the engine's (what ``search`` shows is what answers would use);
        ``escape``: the platform's, for customers' words shown to admins."""
        self.kb, self.retriever = kb, retriever
        self.allow_private_urls = allow_private_urls
        self.miner = gaps
        self.escape = escape

    def usage(self, language: str) -> str:
        return message("kb_usage", language)

    def status(self, language: str) -> str:
        stats = self.kb.stats()
        lines = [
            message("kb_status", language).format(
                entries=stats.entries,
                sources=len(stats.by_source),
                languages=", ".join(f"{code} ({n})" for code, n in stats.by_language.most_common())
                or "—",
            )
        ]
        lines += [
            f"• `{source}`: {n}" for source, n in stats.by_source.most_common(MAX_SOURCES_LISTED)
        ]
        return "\n".join(lines)

    def ingest_url(self, url: str, language: str) -> str:
        if not is_url(url):
            return message("kb_need_source", language)
        return self.report(
            self.kb.ingest_url(url, allow_private=self.allow_private_urls), url, language
        )

    def ingest_file(self, name: str, data: bytes, language: str) -> str:
        return self.report(self.kb.ingest_upload(name, data), name, language)

    def delete(self, source: str, language: str) -> str:
        source = source.strip().strip("`")
        resolved = self.kb.resolve_source(source) if source else None
        if resolved is None:
            return message("kb_unknown_source", language).format(source=f"`{source or '?'}`")
        count = self.kb.delete_source(resolved)
        return message("kb_deleted", language).format(source=f"`{resolved}`", count=count)

    def search(self, query: str, language: str) -> str:
        query = query.strip()
        if not query:
            return self.usage(language)
        hits = self.retriever.hits(query)[:SEARCH_RESULTS]
        if not hits:
            return message("kb_search_none", language).format(query=query)
        lines = [message("kb_search_results", language).format(query=query)]
        for hit in hits:
            meta = hit.document.metadata
            title = meta.get("title") or hit.document.page_content[:80]
            lines.append(f"• {hit.relevance:.2f} {title} (`{meta.get('source', '?')}`)")
        return "\n".join(lines)

    def gaps(self, period: str, language: str) -> str:
        """The biggest gaps of the period (``7d``; empty: all kept), untranslated: the full
        list with translations and drafts is `linguadesk gaps` and the admin API."""
        if self.miner is None:
            return message("kb_gaps_none", language)
        period = period.strip()
        try:
            since = since_time(period)
        except ValueError as exc:
            return str(exc)
        found = self.miner.clusters(since=since, translate=False)
        if not found:
            return message("kb_gaps_none", language)
        lines = [
            message("kb_gaps_header", language).format(
                period=period or message("kb_gaps_all", language), count=len(found)
            )
        ]
        for cluster in found[:GAPS_LISTED]:
            languages = ", ".join(f"{k} {v}" for k, v in cluster.languages.most_common())
            closest = (
                f" → {cluster.closest['title']} ({cluster.closest['relevance']:.2f})"
                if cluster.closest
                else ""
            )
            question = self.escape(" ".join(cluster.questions[0].split())[:200])
            lines.append(
                f"• {cluster.size}× [{languages}] {question}{self.escape(closest)} (`{cluster.id}`)"
            )
        return "\n".join(lines)

    def report(self, report: IngestReport, source: str, language: str) -> str:
        lines = [
            message("kb_ingested", language).format(
                source=f"`{plan.source}`",
                added=len(plan.added),
                updated=len(plan.updated),
                deleted=len(plan.deleted),
                unchanged=plan.unchanged,
            )
            for plan in report.plans
        ]
        lines += [
            message("kb_ingest_failed", language).format(source=f"`{source}`", error=str(error))
            for error in report.errors
        ]
        if report.warnings:
            lines.append(message("kb_warnings", language))
            lines += [f"• {warning}" for warning in report.warnings]
        return "\n".join(lines) or message("kb_need_source", language)
