"""The FAQ retriever, as a LangChain ``BaseRetriever``."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .hybrid import HybridSearch


class FaqRetriever(BaseRetriever):
    """Hybrid search over FAQ entries. Each document carries in its metadata ``score``
    (the calibrated relevance, 0..1) and ``rank_score`` (the fused ranking score)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: HybridSearch
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(page_content=hit.document.page_content, id=hit.document.id,
                     metadata={**hit.document.metadata, "score": hit.relevance,
                               "rank_score": hit.score})
            for hit in self.search.search(query, self.k)
        ]
