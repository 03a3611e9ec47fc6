"""The FAQ collection in Chroma, through LangChain's Chroma vector store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlparse

from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from knowledge.entries import Chunk
from linguadesk.settings import Settings

UPSERT_BATCH = 256


class StoreUnavailable(RuntimeError):
    pass


def make_chroma_client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        ssl = url.scheme == "https"
        try:
            return chromadb.HttpClient(host=url.hostname or "localhost",
                                       port=url.port or (443 if ssl else 8000), ssl=ssl,
                                       settings=chroma_settings)
        except Exception as exc:  # chromadb raises plain Exception/ValueError on connect
            raise StoreUnavailable(
                f"Cannot reach the Chroma server at {settings.chroma_url} ({exc}). Start it or "
                "fix LINGUADESK_CHROMA_URL; unset it to use the embedded store."
            ) from exc
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class FaqStore:
    def __init__(self, settings: Settings, embeddings: Embeddings, client=None):
        self.embeddings = embeddings
        self.vectorstore = Chroma(
            collection_name=settings.chroma_collection,
            embedding_function=embeddings,
            client=client or make_chroma_client(settings),
            collection_metadata={"hnsw:space": "cosine"},
        )

    @property
    def collection(self):
        return self.vectorstore._collection

    def count(self) -> int:
        return self.collection.count()

    def metadata_where(self, where: dict | None = None, page: int = 5000) -> Iterator[tuple[str, dict]]:
        offset = 0
        while True:
            got = self.collection.get(where=where, include=["metadatas"], limit=page, offset=offset)
            for chunk_id, meta in zip(got["ids"], got["metadatas"]):
                yield chunk_id, dict(meta or {})
            if len(got["ids"]) < page:
                return
            offset += page

    def existing(self, source: str) -> dict[str, dict]:
        return dict(self.metadata_where({"source": source}))

    def get(self, chunk_id: str) -> Document | None:
        docs = self.vectorstore.get_by_ids([chunk_id])
        return docs[0] if docs else None

    def upsert(self, chunks: list[Chunk], progress: Callable[[int], None] | None = None) -> None:
        for start in range(0, len(chunks), UPSERT_BATCH):
            batch = chunks[start:start + UPSERT_BATCH]
            self.vectorstore.add_texts(
                [c.text for c in batch], metadatas=[c.metadata for c in batch],
                ids=[c.id for c in batch],
            )
            if progress:
                progress(len(batch))

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 5000):
            self.vectorstore.delete(ids=ids[start:start + 5000])

    def search(self, query: str, k: int) -> list[tuple[Document, float]]:
        """Top-k documents with cosine similarity (1 = identical)."""
        if self.count() == 0:
            return []
        hits = self.vectorstore.similarity_search_with_score(query, k=k)
        return [(doc, 1.0 - float(distance)) for doc, distance in hits]
