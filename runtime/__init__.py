"""Composition root: builds the store, knowledge base and engine from one Settings object.

Each builder imports what it builds when called: torch, sentence-transformers and chromadb
load in seconds, and ``linguadesk --help`` imports this module."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from linguadesk.provision import Progress
from linguadesk.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from sentence_transformers import CrossEncoder

    from bot.conversations import ConversationStore
    from bot.desk import ConversationDesk
    from bot.engine import Engine
    from bot.entry_translation import EntryTranslator
    from bot.failed_turns import FailedTurnLog
    from bot.gaps import GapLog, GapMiner
    from bot.handoff import HandoffService, Notifier
    from bot.localize import Localizer
    from bot.rewrite import QueryRewriter
    from bot.turn_log import TurnLog
    from knowledge.admin import KnowledgeBase
    from retrieval.embeddings import SentenceTransformerEmbeddings
    from retrieval.hybrid import HybridSearch
    from retrieval.use_encoder import UniversalSentenceEncoder
    from retrieval.vector_store import FaqStore


def fetch_models(
    settings: Settings, progress: Progress | None = None, *, llm: bool = True
) -> tuple[str, Path | None]:
    """(embedding model, GGUF file): the embedding model built, the USE encoder when it is
    on, and the LLM file unless ``llm`` is off or a server is configured (then None)."""
    from bot.llm_server import ensure_llm_gguf
    from retrieval.embeddings import ensure_embedding_model
    from retrieval.use_encoder import load_use_encoder

    embedding = ensure_embedding_model(settings, progress)
    if settings.retrieval.use_encoder:
        load_use_encoder(settings, progress)
    return embedding, ensure_llm_gguf(settings, progress) if llm and not settings.llm.url else None


def ensure_llm(settings: Settings, progress: Progress | None = None) -> Path | None:
    """The embedded model's file, fetched when no LLM server is configured."""
    from bot.llm_server import ensure_llm_gguf

    return None if settings.llm.url else ensure_llm_gguf(settings, progress)


def load_encoders(
    settings: Settings, progress: Progress | None = None
) -> tuple[SentenceTransformerEmbeddings, UniversalSentenceEncoder | None]:
    """(embeddings, USE encoder or None), each loaded once per process."""
    from retrieval.embeddings import load_embeddings
    from retrieval.use_encoder import load_use_encoder

    use = load_use_encoder(settings, progress) if settings.retrieval.use_encoder else None
    return load_embeddings(settings, progress), use


def build_store(settings: Settings, progress: Progress | None = None) -> FaqStore:
    from retrieval.vector_store import FaqStore

    embeddings, use = load_encoders(settings, progress)
    return FaqStore(settings, embeddings, use_encoder=use)


def load_reranker(settings: Settings) -> CrossEncoder | None:
    """The configured CrossEncoder, or None."""
    if not settings.retrieval.reranker_model:
        return None
    from sentence_transformers import CrossEncoder

    from linguadesk.provision import ProvisioningError

    try:
        return CrossEncoder(settings.retrieval.reranker_model, device="cpu")
    except Exception as exc:  # OSError, ValueError, HF hub errors: all mean "cannot load it"
        raise ProvisioningError(
            f"Cannot load the reranker {settings.retrieval.reranker_model!r} ({type(exc).__name__}: {exc}). "
            "Set LINGUADESK_RETRIEVAL__RERANKER_MODEL to a sentence-transformers CrossEncoder folder, or a "
            "hub name reachable from this machine, or unset it."
        ) from exc


def build_search(settings: Settings, store: FaqStore) -> HybridSearch:
    from retrieval.hybrid import HybridSearch

    return HybridSearch(
        store,
        candidates=settings.retrieval.candidates,
        lexical=settings.retrieval.lexical_search,
        reranker=load_reranker(settings),
    )


def build_knowledge_base(settings: Settings, progress: Progress | None = None) -> KnowledgeBase:
    from knowledge.admin import KnowledgeBase
    from knowledge.limits import IngestLimits

    return KnowledgeBase(
        build_store(settings, progress),
        IngestLimits.from_settings(settings.ingest),
        url_proxy=settings.ingest.url_proxy,
    )


def build_desk(settings: Settings) -> ConversationDesk:
    """What adapters do with conversations besides taking turns (view, release, feedback)."""
    from bot.conversations import open_conversation_store
    from bot.desk import ConversationDesk

    return ConversationDesk(open_conversation_store(settings), settings.default_language)


def open_failed_turns(settings: Settings) -> FailedTurnLog:
    """The turns that got an apology instead of an answer."""
    from bot.failed_turns import open_failed_turn_log

    return open_failed_turn_log(settings)


def build_rewriter(settings: Settings) -> QueryRewriter:
    """The follow-up rewriter on its own, with the rewrite preset (for evaluating it)."""
    from bot.llm import make_chat_model, server_kind, with_preset
    from bot.rewrite import QueryRewriter

    llm = with_preset(make_chat_model(settings), settings.presets.rewrite, server_kind(settings))
    return QueryRewriter(llm)


def build_handoff(
    settings: Settings,
    llm_factory: Callable[[], BaseChatModel],
    extra_notifiers: Sequence[Notifier] = (),
) -> HandoffService:
    """The webhook from the settings, plus the notifiers adapters bring (a Slack channel)."""
    from bot.handoff import HandoffService, WebhookNotifier
    from linguadesk.settings import ConfigError

    notifiers: list[Notifier] = []
    if settings.handoff.webhook_url:
        secret = settings.handoff.webhook_secret
        if secret is None or len(secret.get_secret_value()) < 32:
            raise ConfigError(
                "LINGUADESK_HANDOFF__WEBHOOK_URL is set, so "
                "LINGUADESK_HANDOFF__WEBHOOK_SECRET must be too (at least 32 "
                "characters, e.g. `openssl rand -hex 32`): the receiver checks "
                "every handoff's signature with it (docs/security.md)."
            )
        notifiers.append(WebhookNotifier(settings.handoff.webhook_url, secret.get_secret_value()))
    notifiers.extend(extra_notifiers)
    storage = settings.redis or "memory://"
    try:
        return HandoffService(
            notifiers,
            llm_factory,
            settings.data_dir / "handoff-outbox",
            queue_max=settings.handoff.queue_max,
            per_conversation=settings.handoff.rate_limit_conversation,
            per_address=settings.handoff.rate_limit_ip,
            limits_storage=storage,
        )
    except ValueError as exc:  # from parsing the limits
        raise ConfigError(
            f"LINGUADESK_HANDOFF__RATE_LIMIT_CONVERSATION / _IP must be limits "
            f"like '3/hour' ({exc})."
        ) from exc


def build_engine(
    settings: Settings,
    store: FaqStore | None = None,
    progress: Progress | None = None,
    conversations: ConversationStore | None = None,
    notifiers: Sequence[Notifier] = (),
) -> Engine:
    """``notifiers``: told about handoffs besides the configured webhook
    (``adapters.slack.notifier.slack_handoff_notifiers``)."""
    from bot.conversations import open_conversation_store
    from bot.engine import Engine
    from bot.llm import CircuitBreaker, make_chat_model, server_kind
    from retrieval.retriever import FaqRetriever

    store = store or build_store(settings, progress)
    llm = cache(lambda: make_chat_model(settings))  # engine and handoff share one client
    language = settings.retrieval.language
    return Engine(
        FaqRetriever(search=build_search(settings, store), k=settings.retrieval.k),
        llm,
        min_confidence=settings.answers.min_confidence,
        off_topic_below=settings.answers.off_topic_below,
        conversations=conversations or open_conversation_store(settings),
        presets={
            "answer": settings.presets.answer,
            "small_talk": settings.presets.small_talk,
            "rewrite": settings.presets.rewrite,
            "translate": settings.presets.translate,
        },
        server=server_kind(settings),
        handoff=build_handoff(settings, llm, notifiers),
        default_language=settings.default_language,
        history_token_budget=settings.conversations.history_token_budget,
        rewrite_follow_ups=settings.conversations.rewrite_follow_ups,
        retrieval_language=(lambda: store.main_language()) if language == "auto" else language,
        breaker=CircuitBreaker(settings.llm.breaker_failures, settings.llm.breaker_reset_s),
        failed_turns=open_failed_turns(settings),
        answer_path=settings.answers.path,
        translations=store if hasattr(store, "get_translation") else None,
        clarify_margin=settings.answers.clarify_margin,
        team_language=settings.handoff.team_language,
        agent_rate=settings.handoff.agent_rate_limit,
        gaps=open_gap_log(settings),
        turns=open_turn_log(settings),
        # USE only: e5-small keeps one sentence's languages apart, so it cannot compare them
        encode_across_languages=store.encode_use if store.use_encoder is not None else None,
    )


def open_turn_log(settings: Settings) -> TurnLog:
    from bot.turn_log import TurnLog

    return TurnLog(settings.data_dir / "turns.jsonl", settings.redis)


def open_gap_log(settings: Settings) -> GapLog:
    from bot.gaps import GapLog

    return GapLog(settings.data_dir / "gaps.jsonl", settings.redis)


def build_gap_miner(engine: Engine, store: FaqStore, settings: Settings) -> GapMiner:
    """`linguadesk gaps`, the admin API's and /kb's: the engine's retriever, translator and
    model over the gap log."""
    from bot.gaps import GapMiner

    return GapMiner(
        engine.gaps or open_gap_log(settings),
        store.encode_across_languages,
        engine.retriever,
        engine.team.translator,
        lambda: engine.model("answer"),
    )


def build_translator(settings: Settings, cache_store: FaqStore | None = None) -> EntryTranslator:
    """The entry translator on the translate preset (the model made on first use)."""
    from bot.entry_translation import EntryTranslator
    from bot.llm import make_chat_model, server_kind, with_preset

    model = cache(
        lambda: with_preset(
            make_chat_model(settings), settings.presets.translate, server_kind(settings)
        )
    )
    # USE only: e5-small keeps one sentence's languages apart, so it cannot compare them.
    use = cache_store.use_encoder if cache_store is not None else load_encoders(settings)[1]
    return EntryTranslator(model, cache_store, use.encode if use is not None else None)


def translate_concurrency(settings: Settings) -> int:
    return settings.kb.translate_concurrency or (8 if settings.llm.url else 1)


def build_localizer(settings: Settings, store: FaqStore) -> Localizer:
    """``kb translate``: the translate preset, one request at a time on the embedded server."""
    from bot.localize import Localizer

    return Localizer(
        store, build_translator(settings, store), concurrency=translate_concurrency(settings)
    )


def translate_at_ingest(settings: Settings) -> bool:
    """Whether `kb ingest` translates unless told: on when an LLM server is configured."""
    mode = settings.kb.translate_at_ingest
    return mode == "on" or (mode == "auto" and bool(settings.llm.url))
