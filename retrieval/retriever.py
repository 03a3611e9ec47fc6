"""The FAQ retriever: typed hits for the engine, and LangChain's ``BaseRetriever`` contract
(``invoke(query, k=...)``) for everything else."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from common.hits import Hit

from .hybrid import HybridSearch


class FaqRetriever(BaseRetriever):
    """Hybrid search over FAQ entries. As documents, each carries in its metadata ``score``
    (the calibrated relevance, 0..1) and ``rank_score`` (the fused ranking score)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: HybridSearch
    k: int = 4

    def hits(self, query: str, k: int | None = None) -> list[Hit]:
        return self.search.search(query, self.k if k is None else k)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        return [
            Document(
                page_content=hit.document.page_content,
                id=hit.document.id,
                metadata={**hit.document.metadata, "score": hit.relevance, "rank_score": hit.score},
            )
            for hit in self.hits(query, k)
        ]
