"""Fetching a FAQ source from a URL (admin commands: `kb ingest https://…`, the admin API)."""

from __future__ import annotations

import email.utils
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from .entries import SourceError
from .loaders import SUPPORTED_SUFFIXES

_SUFFIX_BY_TYPE = {
    "text/html": ".html", "application/xhtml+xml": ".html", "text/markdown": ".md",
    "text/x-markdown": ".md", "text/csv": ".csv", "text/tab-separated-values": ".tsv",
    "application/json": ".json", "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl", "application/pdf": ".pdf", "text/plain": ".md",
}


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def download(url: str, folder: Path, *, max_bytes: int, timeout_s: float = 30.0) -> Path:
    """Saves ``url`` into ``folder`` under a name whose suffix names its format (from the path,
    else the Content-Type); the file's time is the server's Last-Modified."""
    if not is_url(url):
        raise SourceError(url, "is not an http(s) URL")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout_s,
                          headers={"User-Agent": "linguadesk-kb-ingest"}) as response:
            if response.status_code >= 400:
                raise SourceError(url, f"answered HTTP {response.status_code}; check the URL "
                                  "and that the page is public")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise SourceError(url, f"is larger than {max_bytes // (1024 * 1024)} MB; "
                                      "split it or raise the upload limit")
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            modified = response.headers.get("last-modified")
    except httpx.HTTPError as exc:
        raise SourceError(url, f"could not be downloaded ({type(exc).__name__}: {exc}); check "
                          "the URL and that this server can reach it") from exc
    name = Path(unquote(urlsplit(url).path)).name
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        suffix = _SUFFIX_BY_TYPE.get(content_type.lower(), "")
        if not suffix:
            raise SourceError(url, f"has an unsupported type ({content_type or 'unknown'}); "
                              "link a Markdown, CSV/TSV, JSON/JSONL, HTML or PDF file")
        name = (Path(name).stem or "page") + suffix
    path = folder / name
    path.write_bytes(bytes(data))
    try:
        when = email.utils.parsedate_to_datetime(modified).timestamp() if modified else None
    except (TypeError, ValueError):  # a malformed date: keep the download time
        when = None
    if when:
        os.utime(path, (when, when))
    return path
