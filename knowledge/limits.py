"""What one ingest may cost: the limits that keep a hostile file or URL from freezing a worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linguadesk.settings import IngestSettings


@dataclass(frozen=True)
class IngestLimits:
    parse_timeout_s: float = 20.0  # wall clock (and CPU time) to parse one file
    parse_memory_mb: int = 1024  # address space of the parsing process
    max_text_chars: int = 20 * 1024 * 1024  # text extracted from one file
    max_pdf_pages: int = 2000
    url_timeout_s: float = 30.0  # a whole URL fetch: DNS, redirects, headers and body
    max_concurrent_urls: int = 2
    max_concurrent_parses: int = 2  # child processes parsing files from outside at once

    @classmethod
    def from_settings(cls, ingest: IngestSettings) -> IngestLimits:
        return cls(
            parse_timeout_s=ingest.parse_timeout_s,
            parse_memory_mb=ingest.parse_memory_mb,
            max_text_chars=int(ingest.max_text_mb * 1024 * 1024),
            max_pdf_pages=ingest.max_pdf_pages,
            url_timeout_s=ingest.url_timeout_s,
            max_concurrent_urls=ingest.max_concurrent_urls,
            max_concurrent_parses=ingest.max_concurrent_parses,
        )
