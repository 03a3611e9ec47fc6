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


def build_search(settings: Settings, store):
    from retrieval.hybrid import HybridSearch

    reranker = None
    if settings.reranker_model:
        from sentence_transformers import CrossEncoder

        reranker = CrossEncoder(settings.reranker_model, device="cpu")
    return HybridSearch(store, candidates=settings.retrieval_candidates,
                        lexical=settings.lexical_search, reranker=reranker)


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
