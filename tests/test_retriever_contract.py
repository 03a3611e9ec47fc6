"""FaqRetriever against LangChain's own standard retriever suite (langchain-tests), over the
real store and encoders: ``invoke(query, k=1)`` gives one document, the constructor's ``k``
is honoured, and sync and async calls return Documents."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from retrieval.hybrid import HybridSearch
from retrieval.retriever import FaqRetriever


class TestFaqRetrieverContract(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _search(self, loaded_kb):
        type(self).search = HybridSearch(loaded_kb.store)

    @property
    def retriever_constructor(self) -> type[FaqRetriever]:
        return FaqRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"search": self.search, "k": 3}

    @property
    def retriever_query_example(self) -> str:
        return "How long does shipping take?"


def test_hits_carry_the_scores_the_documents_do(loaded_kb):
    retriever = FaqRetriever(search=HybridSearch(loaded_kb.store), k=2)
    hits = retriever.hits("How long does shipping take?")
    docs = retriever.invoke("How long does shipping take?")
    assert len(hits) == 2 and [h.entry_id for h in hits] == [d.metadata["entry_id"] for d in docs]
    assert [h.relevance for h in hits] == [d.metadata["score"] for d in docs]
    assert hits[0].score >= hits[1].score and 0.0 <= hits[0].relevance <= 1.0
