"""What retrieval hands the engine: one FAQ entry found for a query, with its scores."""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.documents import Document


@dataclass
class Hit:
    document: Document
    score: float  # fused, for ranking only
    relevance: float  # calibrated, 0..1: what "is this the answer?" decisions read
    channels: dict[str, float] = field(default_factory=dict)

    @property
    def entry_id(self) -> str:
        return str(self.document.metadata.get("entry_id") or self.document.id or "")

    @property
    def language(self) -> str:
        """The language the entry is written in."""
        return str(self.document.metadata.get("language") or "en")
