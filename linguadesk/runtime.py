"""Composition root: builds the store, knowledge base and engine from one Settings object."""

from __future__ import annotations

from linguadesk.provision import Progress
from linguadesk.settings import Settings


def build_store(settings: Settings, progress: Progress | None = None):
    from retrieval.embeddings import load_embeddings
    from retrieval.use_encoder import load_use_encoder
    from retrieval.vector_store import FaqStore

    second = load_use_encoder(settings, progress) if settings.use_encoder else None
    return FaqStore(settings, load_embeddings(settings, progress), second_encoder=second)


def load_reranker(settings: Settings):
    """The configured CrossEncoder, or None."""
    if not settings.reranker_model:
        return None
    from sentence_transformers import CrossEncoder

    from linguadesk.provision import ProvisioningError

    try:
        return CrossEncoder(settings.reranker_model, device="cpu")
    except Exception as exc:  # OSError, ValueError, HF hub errors: all mean "cannot load it"
        raise ProvisioningError(
            f"Cannot load the reranker {settings.reranker_model!r} ({type(exc).__name__}: {exc}). "
            "Set LINGUADESK_RERANKER_MODEL to a sentence-transformers CrossEncoder folder, or a "
            "hub name reachable from this machine, or unset it."
        ) from exc


def build_search(settings: Settings, store):
    from retrieval.hybrid import HybridSearch

    return HybridSearch(store, candidates=settings.retrieval_candidates,
                        lexical=settings.lexical_search, reranker=load_reranker(settings))


def build_knowledge_base(settings: Settings, progress: Progress | None = None):
    from knowledge.admin import KnowledgeBase

    return KnowledgeBase(build_store(settings, progress))


def build_engine(settings: Settings, store=None, progress: Progress | None = None):
    from bot.engine import Engine
    from bot.llm import make_chat_model
    from bot.memory import InMemoryHistory
    from retrieval.retriever import FaqRetriever

    store = store or build_store(settings, progress)
    return Engine(
        FaqRetriever(search=build_search(settings, store), k=settings.retrieval_k),
        lambda: make_chat_model(settings),
        min_confidence=settings.min_confidence,
        memory=InMemoryHistory(max_messages=2 * settings.history_turns),
        default_language=settings.default_language,
        history_messages=2 * settings.history_turns,
    )
