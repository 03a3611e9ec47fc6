"""The FAQ retriever, as a LangChain ``BaseRetriever``."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .vector_store import FaqStore


class FaqRetriever(BaseRetriever):
    """Dense search over FAQ entries; each document carries its cosine ``score`` in metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: FaqStore
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        results = []
        for doc, score in self.store.search(query, self.k):
            results.append(Document(page_content=doc.page_content, id=doc.id,
                                    metadata={**doc.metadata, "score": score}))
        return results
