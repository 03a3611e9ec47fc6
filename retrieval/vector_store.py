"""The FAQ collection in Chroma, through LangChain's Chroma vector store."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from langchain_chroma import Chroma
from langchain_core.documents import Document

from common.translation import MACHINE, Translation
from knowledge.entries import Chunk
from linguadesk.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    from chromadb.api import ClientAPI

    from .embeddings import SentenceTransformerEmbeddings

UPSERT_BATCH = 256
VIEWS_COMPLETE = "views-complete"
USE_COMPLETE = "second-encoder-complete"  # the marker's stored id, kept for existing stores

log = logging.getLogger(__name__)

# A Chroma collection. Typed loosely on purpose: chromadb's annotations refuse what its API
# takes (a list[list[float]] of embeddings, plain-dict ``where`` filters) and make optional
# every field of a result, even those ``include=`` asks for.
ChromaCollection = Any
# What ``ChromaCollection.get`` returns: "ids", and the fields asked for.
ChromaResult = dict[str, Any]


class StoreUnavailable(RuntimeError):
    pass


class TextEncoder(Protocol):
    """The USE encoder (``retrieval.use_encoder.UniversalSentenceEncoder``): one unit-length
    row per text."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


def stored_id(doc: Document) -> str:
    """The id of an entry read from the store (Chroma gives every record one)."""
    if doc.id is None:
        raise ValueError(f"an entry without an id: {doc.page_content[:60]!r}")
    return doc.id


def _ours(view_id: str, only: set[tuple[str, str]] | None) -> bool:
    """Whether a translated view (``<chunk>~t.<lang>.<n>``) is one of these pairs' (or any)."""
    if only is None:
        return True
    chunk_id, _, rest = view_id.partition("~t.")
    return (chunk_id, rest.split(".", 1)[0]) in only


def make_chroma_client(settings: Settings) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma.url:
        url = urlparse(settings.chroma.url)
        ssl = url.scheme == "https"
        try:
            return chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if ssl else 8000),
                ssl=ssl,
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises plain Exception/ValueError on connect
            raise StoreUnavailable(
                f"Cannot reach the Chroma server at {settings.chroma.url} ({exc}). Start it or "
                "fix LINGUADESK_CHROMA__URL; unset it to use the embedded store."
            ) from exc
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def question_views(metadata: dict) -> list[str]:
    """The ways an entry is asked: its question and its variants (one per line)."""
    texts = [str(metadata.get("question", ""))]
    texts += str(metadata.get("variants", "")).split("\n")
    seen: set[str] = set()
    out = []
    for text in (t.strip() for t in texts):
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            out.append(text)
    return out


class FaqStore:
    """Entries in one Chroma collection (what LangChain's ``Chroma`` reads). Side
    collections: ``__views`` holds the e5 vector of each way an entry is asked
    (``<chunk id>~q<n>``); ``__use``, when the USE encoder is given, the USE vectors of
    the entry text (``~doc``) and of those questions; ``__revision`` a token that changes
    on every write, for other processes' lexical indexes.

    Writes go side collections first and the entry last: the entry carries the content
    hash sync compares, so a write cut short is redone by the next ingest.
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: SentenceTransformerEmbeddings,
        client: ClientAPI | None = None,
        use_encoder: TextEncoder | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.use_encoder = use_encoder
        client = client or make_chroma_client(settings)
        name = settings.chroma.collection
        self.vectorstore = Chroma(
            collection_name=name,
            embedding_function=embeddings,
            client=client,
            collection_metadata={"hnsw:space": "cosine"},
        )
        space = {"hnsw:space": "cosine"}
        self.views: ChromaCollection = client.get_or_create_collection(
            f"{name}__views", metadata=space, embedding_function=None
        )
        self.use_views: ChromaCollection | None = (
            client.get_or_create_collection(f"{name}__use", metadata=space, embedding_function=None)
            if use_encoder is not None
            else None
        )
        self._meta: ChromaCollection = client.get_or_create_collection(
            f"{name}__revision", embedding_function=None
        )
        # Entries translated into customers' languages (bot/entry_translation.py).
        self.translations: ChromaCollection = client.get_or_create_collection(
            f"{name}__translations", embedding_function=None
        )
        self.writes = 0  # local write counter: lets this process's searches skip the recheck delay
        self._complete_side_collections()

    # Markers in the revision collection say a side collection covers every entry. A store
    # written before the side collections existed, or while the USE encoder was off,
    # lacks one, and the collection is rebuilt once from the entries on open.
    def _marked(self, marker: str) -> bool:
        return bool(self._meta.get(ids=[marker], include=[])["ids"])

    def _mark(self, marker: str) -> None:
        self._meta.upsert(ids=[marker], embeddings=[[1.0]], documents=[marker])

    def _complete_side_collections(self) -> None:
        rebuild_views = not self._marked(VIEWS_COMPLETE)
        rebuild_use = self.use_views is not None and not self._marked(USE_COMPLETE)
        if not (rebuild_views or rebuild_use):
            return
        if self.collection.count():
            log.info("building search views for %d stored entries", self.collection.count())
            for side, rebuild in ((self.views, rebuild_views), (self.use_views, rebuild_use)):
                if rebuild and side is not None:  # USE is rebuilt only when there
                    ids = side.get(include=[])["ids"]
                    for start in range(0, len(ids), 5000):
                        side.delete(ids=ids[start : start + 5000])
            docs = list(self.documents())
            for start in range(0, len(docs), UPSERT_BATCH):
                batch = [
                    Chunk(stored_id(d), d.page_content, d.metadata)
                    for d in docs[start : start + UPSERT_BATCH]
                ]
                self._write_views(batch, views=rebuild_views, use=rebuild_use)
                self._write_translation_views([c.id for c in batch])
            self.bump_revision()
        if rebuild_views:
            self._mark(VIEWS_COMPLETE)
        if rebuild_use:
            self._mark(USE_COMPLETE)

    def encode_across_languages(self, texts: list[str]) -> np.ndarray:
        """Vectors that put one question in different languages close together: the USE
        encoder's where the store has it (e5-small keeps languages apart), else e5's."""
        if self.use_encoder is not None:
            return self.use_encoder.encode(texts)
        return np.asarray(self.embeddings.embed_queries(texts))

    def encode_use(self, texts: list[str]) -> np.ndarray:
        """The USE encoder's vectors of ``texts``, for a store opened with one."""
        if self.use_encoder is None:
            raise RuntimeError("this store was opened without the USE encoder")
        return self.use_encoder.encode(texts)

    @property
    def collection(self) -> ChromaCollection:
        return self.vectorstore._collection

    def count(self) -> int:
        return self.collection.count()

    def _pages(
        self, include: list[str], where: dict | None = None, page: int = 5000
    ) -> Iterator[ChromaResult]:
        offset = 0
        while True:
            got = self.collection.get(where=where, include=include, limit=page, offset=offset)
            yield got
            if len(got["ids"]) < page:
                return
            offset += page

    def metadata_where(self, where: dict | None = None) -> Iterator[tuple[str, dict]]:
        for got in self._pages(["metadatas"], where):
            for chunk_id, meta in zip(got["ids"], got["metadatas"]):
                yield chunk_id, dict(meta or {})

    def existing(self, source: str) -> dict[str, dict]:
        return dict(self.metadata_where({"source": source}))

    def get(self, chunk_id: str) -> Document | None:
        docs = self.vectorstore.get_by_ids([chunk_id])
        return docs[0] if docs else None

    def upsert(self, chunks: list[Chunk], progress: Callable[[int], None] | None = None) -> None:
        if not chunks:
            return
        if self.use_views is None:
            # Written without USE vectors: a later run with the encoder must rebuild them.
            self._meta.delete(ids=[USE_COMPLETE])
        for start in range(0, len(chunks), UPSERT_BATCH):
            batch = chunks[start : start + UPSERT_BATCH]
            entry_vectors = self._write_views(batch)
            self._drop_answer_translations([c.id for c in batch])
            self.collection.upsert(
                ids=[c.id for c in batch],
                embeddings=entry_vectors,
                documents=[c.text for c in batch],
                metadatas=[c.metadata for c in batch],
            )
            # A translation made from this very text (an edit undone) is searchable again.
            self._write_translation_views([c.id for c in batch])
            if progress:
                progress(len(batch))
        self.bump_revision()

    def _write_views(
        self, batch: list[Chunk], *, views: bool = True, use: bool = True
    ) -> list[list[float]]:
        """Embed and store every view of the batch; returns the entries' own e5 vectors
        (none when only the USE views are rebuilt).

        The questions of a long answer split into chunks belong to its first chunk only:
        repeating them on every chunk would let one article fill the candidate list."""
        texts = [c.text for c in batch]
        ids, metas = [], []
        for chunk in batch:
            if int(chunk.metadata.get("chunk_index", 0) or 0) > 0:
                continue
            for n, text in enumerate(question_views(chunk.metadata)):
                ids.append(f"{chunk.id}~q{n}")
                texts.append(text)
                metas.append({"chunk_id": chunk.id})
        chunk_ids = [c.id for c in batch]
        vectors: list[list[float]] = []
        if views:
            vectors = self.embeddings.embed_documents(texts)
            if ids:
                self.views.upsert(ids=ids, embeddings=vectors[len(batch) :], metadatas=metas)
            self._delete_stale(self.views, chunk_ids, set(ids))
        if use and self.use_views is not None:
            all_ids = [f"{c.id}~doc" for c in batch] + ids
            all_metas = [{"chunk_id": c.id} for c in batch] + metas
            encoded = self.encode_use(texts)
            self.use_views.upsert(ids=all_ids, embeddings=encoded.tolist(), metadatas=all_metas)
            self._delete_stale(self.use_views, chunk_ids, set(all_ids))
        return vectors[: len(batch)]

    @staticmethod
    def _delete_stale(collection: ChromaCollection, chunk_ids: list[str], keep: set[str]) -> None:
        got = collection.get(where={"chunk_id": {"$in": chunk_ids}}, include=[])
        stale = [i for i in got["ids"] if i not in keep]
        if stale:
            collection.delete(ids=stale)

    def delete(self, ids: list[str]) -> None:
        """Side collections first, the entry last (as for writes): a delete cut short leaves
        an entry that the next sync deletes again, never orphaned views."""
        if not ids:
            return
        if self.use_views is None:
            self._meta.delete(ids=[USE_COMPLETE])
        for start in range(0, len(ids), 5000):
            batch = ids[start : start + 5000]
            for side in (self.views, self.use_views, self.translations):
                if side is not None:
                    side.delete(where={"chunk_id": {"$in": batch}})
            self.vectorstore.delete(ids=batch)
        self.bump_revision()

    # -- translations --------------------------------------------------------------
    # One side collection holds both kinds: the localized entries (``<chunk>~entry.<lang>``:
    # made at ingest or reviewed by a person; searchable views of their own) and the answer
    # path's per-locale cache (``<chunk>~<lang>:<locale>``, figures already localized).

    def get_translation(self, chunk_id: str, key: str, content_hash: str) -> str | None:
        """A cached translation of the entry, if made from this version of it."""
        got = self.translations.get(ids=[f"{chunk_id}~{key}"], include=["documents", "metadatas"])
        if got["ids"] and (got["metadatas"][0] or {}).get("content_hash") == content_hash:
            return got["documents"][0]
        return None

    def put_translation(self, chunk_id: str, key: str, content_hash: str, text: str) -> None:
        if self.get(chunk_id) is None:  # deleted while it was being translated
            return
        self.translations.upsert(
            ids=[f"{chunk_id}~{key}"],
            embeddings=[[1.0]],
            documents=[text],
            metadatas=[{"chunk_id": chunk_id, "content_hash": content_hash, "key": key}],
        )

    def get_localized(self, chunk_id: str, language: str, content_hash: str) -> str | None:
        """The localized entry (reviewed or machine) in ``language``, unless it is stale."""
        return self.get_translation(chunk_id, f"entry.{language}", content_hash)

    def _drop_answer_translations(self, chunk_ids: list[str]) -> None:
        """The answer path's cache of entries that changed. Localized entries stay: they are
        stale now (their ``content_hash`` is the old one) until translated or reviewed again."""
        got = self.translations.get(where={"chunk_id": {"$in": chunk_ids}}, include=["metadatas"])
        ids = [i for i, m in zip(got["ids"], got["metadatas"]) if (m or {}).get("kind") != "entry"]
        if ids:
            self.translations.delete(ids=ids)

    def put_translations(self, items: list[Translation]) -> int:
        """Stores localized entries and indexes their questions; returns how many were stored
        (one whose entry was deleted meanwhile is not)."""
        current = {stored_id(d): d for d in self.documents(list({t.chunk_id for t in items}))}
        kept = [t for t in items if t.chunk_id in current]
        if kept and self.use_views is None:
            # Written without USE vectors: a later run with the encoder must rebuild them.
            self._meta.delete(ids=[USE_COMPLETE])
        for start in range(0, len(kept), UPSERT_BATCH):
            batch = kept[start : start + UPSERT_BATCH]
            # Views before the record: a run killed in between leaves a translation still
            # pending (redone, its views overwritten), never a stored one without its views.
            hashes = {
                t.chunk_id: str(current[t.chunk_id].metadata.get("content_hash", "")) for t in batch
            }
            self._write_translation_views(
                list({t.chunk_id for t in batch}),
                only={(t.chunk_id, t.language) for t in batch},
                given=[replace(t, stale=t.source_hash != hashes[t.chunk_id]) for t in batch],
            )
            self.translations.upsert(
                ids=[f"{t.chunk_id}~entry.{t.language}" for t in batch],
                embeddings=[[1.0]] * len(batch),
                documents=[t.text for t in batch],
                metadatas=[
                    {
                        "chunk_id": t.chunk_id,
                        "kind": "entry",
                        "key": f"entry.{t.language}",
                        "language": t.language,
                        "content_hash": t.source_hash,
                        "status": t.status,
                        "question": t.question,
                        "variants": "\n".join(t.variants),
                        "answer": t.answer,
                        "source": str(current[t.chunk_id].metadata.get("source", "")),
                    }
                    for t in batch
                ],
            )
        if kept:
            self.bump_revision()
        return len(kept)

    def translations_of(
        self,
        chunk_ids: list[str] | None = None,
        *,
        language: str | None = None,
        source: str | None = None,
    ) -> list[Translation]:
        """Localized entries, each marked stale when its entry changed since."""
        clauses: list[dict] = [{"kind": "entry"}]
        if chunk_ids is not None:
            if not chunk_ids:
                return []
            clauses.append({"chunk_id": {"$in": chunk_ids}})
        if language:
            clauses.append({"language": language})
        if source:
            clauses.append({"source": source})
        where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        got = self.translations.get(where=where, include=["metadatas"])
        metas = [dict(m or {}) for m in got["metadatas"]]
        ids = list({str(m["chunk_id"]) for m in metas})
        hashes: dict[str, str] = {}
        for start in range(0, len(ids), 5000):
            page = self.collection.get(ids=ids[start : start + 5000], include=["metadatas"])
            hashes.update(
                {
                    i: str((m or {}).get("content_hash", ""))
                    for i, m in zip(page["ids"], page["metadatas"])
                }
            )
        return [
            Translation(
                chunk_id=str(m["chunk_id"]),
                language=str(m.get("language", "")),
                question=str(m.get("question", "")),
                answer=str(m.get("answer", "")),
                variants=tuple(v for v in str(m.get("variants", "")).split("\n") if v),
                status=str(m.get("status", MACHINE)),
                source_hash=str(m.get("content_hash", "")),
                stale=hashes.get(str(m["chunk_id"])) != m.get("content_hash"),
            )
            for m in metas
        ]

    def _write_translation_views(
        self,
        chunk_ids: list[str],
        only: set[tuple[str, str]] | None = None,
        given: list[Translation] | None = None,
    ) -> None:
        """The fresh localized questions of these entries as views of their own
        (``<chunk>~t.<lang>.<n>``, with their language); stale ones' views are removed.
        ``only``: just these (chunk id, language) pairs, the others' views left as they are.
        ``given``: these translations instead of the stored ones."""
        if not chunk_ids:
            return
        first = {
            stored_id(d)
            for d in self.documents(chunk_ids)
            if int(d.metadata.get("chunk_index", 0) or 0) == 0
        }
        ids, texts, metas = [], [], []
        for t in self.translations_of(chunk_ids) if given is None else given:
            if t.stale or t.chunk_id not in first:
                continue
            if only is not None and (t.chunk_id, t.language) not in only:
                continue
            for n, text in enumerate(t.views):
                ids.append(f"{t.chunk_id}~t.{t.language}.{n}")
                texts.append(text)
                metas.append({"chunk_id": t.chunk_id, "language": t.language})
        keep = set(ids)
        sides: list[tuple[ChromaCollection, Callable[[list[str]], Any]]] = [
            (self.views, self.embeddings.embed_documents)
        ]
        if self.use_views is not None:
            sides.append((self.use_views, lambda xs: self.encode_use(xs).tolist()))
        for side, encode in sides:
            if ids:
                side.upsert(ids=ids, embeddings=encode(texts), metadatas=metas)
            got = side.get(where={"chunk_id": {"$in": chunk_ids}}, include=[])
            old = [i for i in got["ids"] if "~t." in i and i not in keep and _ours(i, only)]
            if old:
                side.delete(ids=old)

    def translation_views(self) -> dict[str, list[tuple[str, list[str]]]]:
        """chunk id -> (the content hash it was translated from, its localized questions) per
        language, for the lexical index."""
        got = self.translations.get(where={"kind": "entry"}, include=["metadatas"])
        out: dict[str, list[tuple[str, list[str]]]] = {}
        for meta in got["metadatas"]:
            m = dict(meta or {})
            texts = [str(m.get("question", "")), *str(m.get("variants", "")).split("\n")]
            out.setdefault(str(m["chunk_id"]), []).append(
                (str(m.get("content_hash", "")), [t for t in texts if t])
            )
        return out

    def kept_text(self, name: str) -> str:
        """A text the knowledge base keeps in the store itself (shared by every worker): the
        Markdown of a source it writes, such as ``gaps:approved``."""
        got = self._meta.get(ids=[f"text:{name}"], include=["documents"])
        documents = got["documents"] or []
        return str(documents[0]) if documents else ""

    def keep_text(self, name: str, text: str) -> None:
        self._meta.upsert(ids=[f"text:{name}"], embeddings=[[1.0]], documents=[text])

    def bump_revision(self) -> None:
        """Tells every process holding a lexical index that the entries changed."""
        import uuid

        self._meta.upsert(ids=["revision"], embeddings=[[1.0]], documents=[uuid.uuid4().hex])
        self.writes += 1

    def revision(self) -> str:
        got = self._meta.get(ids=["revision"], include=["documents"])
        return got["documents"][0] if got["ids"] else ""

    def documents(self, ids: list[str] | None = None) -> Iterator[Document]:
        """The given entries in that order (missing ones skipped), or all of them."""

        def docs(got: ChromaResult) -> Iterator[Document]:
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"]):
                yield Document(page_content=d or "", id=i, metadata=dict(m or {}))

        include = ["documents", "metadatas"]
        if ids is not None and not ids:
            return
        if ids is None:
            for got in self._pages(include):
                yield from docs(got)
            return
        by_id = {doc.id: doc for doc in docs(self.collection.get(ids=ids, include=include))}
        yield from (by_id[i] for i in ids if i in by_id)

    def main_language(self, default: str = "en") -> str:
        """The language most entries are written in (cached until the next write)."""
        revision = self.revision()
        if getattr(self, "_language_cache", (None,))[0] != revision:
            counts = Counter(str(meta.get("language") or "") for _, meta in self.metadata_where())
            counts.pop("", None)
            self._language_cache = (revision, counts.most_common(1)[0][0] if counts else default)
        return self._language_cache[1]

    def search(self, query: str, k: int) -> list[tuple[Document, float]]:
        """Top-k documents with cosine similarity (1 = identical)."""
        if self.count() == 0:
            return []
        hits = self.vectorstore.similarity_search_with_score(query, k=k)
        return [(doc, 1.0 - float(distance)) for doc, distance in hits]
