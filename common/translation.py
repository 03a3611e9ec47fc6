"""A localized FAQ entry: what ``kb translate`` makes and a reviewer corrects."""

from __future__ import annotations

from dataclasses import dataclass

MACHINE = "machine"
REVIEWED = "reviewed"


@dataclass(frozen=True)
class Translation:
    """An entry (one chunk) in another language: its question, variants and answer.

    ``source_hash`` is the content hash of the entry it was made from: when the entry
    changes, the translation is *stale* until translated or reviewed again."""

    chunk_id: str
    language: str
    question: str
    answer: str
    variants: tuple[str, ...] = ()
    status: str = MACHINE  # MACHINE or REVIEWED
    source_hash: str = ""
    stale: bool = False

    @property
    def text(self) -> str:
        return f"{self.question}\n\n{self.answer}" if self.question else self.answer

    @property
    def views(self) -> list[str]:
        """The ways the entry is asked in this language, each searchable."""
        seen: set[str] = set()
        out = []
        for text in (t.strip() for t in (self.question, *self.variants)):
            if text and text.casefold() not in seen:
                seen.add(text.casefold())
                out.append(text)
        return out
