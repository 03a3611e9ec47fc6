"""One FAQ entry = one chunk; long articles are split with a LangChain text splitter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from common.links import link_problem

from .entries import Chunk, FaqEntry, SourceError, content_hash, stable_id

MAX_ANSWER_CHARS = 1500

_splitter = RecursiveCharacterTextSplitter(
    chunk_size=1000,
    chunk_overlap=120,
    separators=["\n\n", "\n", "。", ". ", "? ", "! ", "؟", "、", ", ", " ", ""],
)


def entries_to_chunks(
    entries: list[FaqEntry],
    source: str,
    *,
    detect_language: Callable[[str], str],
    product: str = "",
    default_updated_at: str = "",
) -> list[Chunk]:
    seen: Counter[str] = Counter()
    chunks: list[Chunk] = []
    for entry in entries:
        if problem := link_problem(entry.url):
            raise SourceError(
                source,
                f"entry {entry.title!r} has a link that is {problem}; use an https:// address",
                entry.line,
            )
    for entry in entries:
        key = entry.question.casefold()
        seen[key] += 1
        entry_id = stable_id(source, key, str(seen[key]))
        pieces = (
            _splitter.split_text(entry.answer)
            if len(entry.answer) > MAX_ANSWER_CHARS
            else [entry.answer]
        )
        language = entry.language or detect_language(f"{entry.question}\n{entry.answer}")
        for index, piece in enumerate(pieces):
            text = f"{entry.question}\n\n{piece}"
            metadata: dict[str, str | int] = {
                "source": source,
                "entry_id": entry_id,
                "title": entry.title,
                "question": entry.question,
                "url": entry.url.strip(),
                "language": language,
                "product": entry.product or product,
                "tags": ", ".join(entry.tags),
                "variants": "\n".join(entry.variants),
                "updated_at": entry.updated_at,
                "chunk_index": index,
                "chunk_count": len(pieces),
            }
            # A date taken from the file's mtime is not content: touching a file must not
            # turn every entry into an update.
            metadata["content_hash"] = content_hash(text, metadata)
            if not metadata["updated_at"]:
                metadata["updated_at"] = default_updated_at
            chunk_id = entry_id if len(pieces) == 1 else stable_id(entry_id, str(index))
            chunks.append(Chunk(chunk_id, text, metadata))
    return chunks
