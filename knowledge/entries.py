"""What a loader produces and what the store holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class FaqEntry:
    question: str
    answer: str
    title: str = ""
    url: str = ""
    language: str = ""
    product: str = ""
    tags: list[str] = field(default_factory=list)
    updated_at: str = ""
    # Other ways customers ask the same question; each is searchable on its own.
    variants: list[str] = field(default_factory=list)
    line: int | None = None  # where the entry starts in its source, for error messages

    def __post_init__(self) -> None:
        self.question = " ".join(self.question.split())
        self.answer = self.answer.strip()
        self.title = " ".join((self.title or self.question).split())
        cleaned = (" ".join(v.split()) for v in self.variants)
        self.variants = [v for v in dict.fromkeys(cleaned) if v and v != self.question]


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, str | int]

    @property
    def content_hash(self) -> str:
        return str(self.metadata["content_hash"])

    @property
    def title(self) -> str:
        return str(self.metadata.get("title", ""))


class SourceError(ValueError):
    """A source file that cannot be read as an FAQ; names the file and, where known, the line."""

    def __init__(self, source: str, problem: str, line: int | None = None) -> None:
        self.source = source
        self.problem = problem
        self.line = line
        where = f"{source}, line {line}" if line else source
        super().__init__(
            f"{where}: {problem}. Fix the file and ingest it again; "
            "nothing stored from this file was changed."
        )


def stable_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def content_hash(text: str, metadata: dict) -> str:
    items = sorted((k, str(v)) for k, v in metadata.items())
    return hashlib.sha256(repr((text, items)).encode()).hexdigest()[:32]
