"""Fetching a FAQ source from a URL (admin commands: `kb ingest https://…`, the admin API)."""

from __future__ import annotations

import email.utils
import ipaddress
import os
import socket
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from .entries import SourceError
from .loaders import SUPPORTED_SUFFIXES

_SUFFIX_BY_TYPE = {
    "text/html": ".html", "application/xhtml+xml": ".html", "text/markdown": ".md",
    "text/x-markdown": ".md", "text/csv": ".csv", "text/tab-separated-values": ".tsv",
    "application/json": ".json", "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl", "application/pdf": ".pdf", "text/plain": ".md",
}
MAX_REDIRECTS = 5


def is_url(text: str) -> bool:
    try:
        return urlsplit(text).scheme in ("http", "https")
    except ValueError:
        return False


def source_name_for(url: str) -> str:
    """The URL as a source name: without a user, password, query or fragment, which may hold
    secrets and would be shown with citations."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


def _refuse_private(url: str) -> None:
    """Admin API fetches go only to public addresses (not this machine, its network or a cloud
    metadata service), checked again on every redirect."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise SourceError(url, f"names a host that does not resolve ({exc.strerror}); check "
                          "the URL") from exc
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise SourceError(url, f"points at a private address ({address}), which the admin "
                              "API does not fetch; set LINGUADESK_WEB_INGEST_PRIVATE_URLS=true "
                              "to allow it, or use `linguadesk kb ingest` on the server")


def download(url: str, folder: Path, *, max_bytes: int, timeout_s: float = 30.0,
             allow_private: bool = True) -> Path:
    """Saves ``url`` into ``folder`` as ``download<suffix>``, the suffix naming its format (from
    the path, else the Content-Type); the file's time is the server's Last-Modified."""
    if not is_url(url):
        raise SourceError(url, "is not an http(s) URL")
    deadline = time.monotonic() + timeout_s
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False,
                          headers={"User-Agent": "linguadesk-kb-ingest",
                                   "Accept-Encoding": "identity"}) as client:
            current = url
            for _ in range(MAX_REDIRECTS + 1):
                if not allow_private:
                    _refuse_private(current)
                with client.stream("GET", current) as response:
                    if response.is_redirect:
                        current = str(response.url.join(response.headers["location"]))
                        continue
                    if response.status_code >= 400:
                        raise SourceError(url, f"answered HTTP {response.status_code}; check the "
                                          "URL and that the page is public")
                    data = bytearray()
                    for chunk in response.iter_raw():
                        data += chunk
                        if len(data) > max_bytes:
                            raise SourceError(url, f"is larger than {_size(max_bytes)}; split it "
                                              "or raise the upload limit")
                        if time.monotonic() > deadline:
                            raise SourceError(url, f"took longer than {timeout_s:.0f} s to "
                                              "download; try again or upload the file")
                    content_type = response.headers.get("content-type", "").split(";")[0]
                    modified = response.headers.get("last-modified")
                    final_path = urlsplit(current).path
                    break
            else:
                raise SourceError(url, f"redirects more than {MAX_REDIRECTS} times")
    except SourceError:
        raise
    except httpx.HTTPError as exc:
        raise SourceError(url, f"could not be downloaded ({type(exc).__name__}: {exc}); check "
                          "the URL and that this server can reach it") from exc
    except ValueError as exc:  # a malformed URL or redirect target
        raise SourceError(url, f"is not a valid URL ({exc})") from exc
    suffix = Path(unquote(final_path)).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        suffix = _SUFFIX_BY_TYPE.get(content_type.strip().lower(), "")
        if not suffix:
            raise SourceError(url, f"has an unsupported type ({content_type or 'unknown'}); "
                              "link a Markdown, CSV/TSV, JSON/JSONL, HTML or PDF file")
    path = folder / f"download{suffix}"
    path.write_bytes(bytes(data))
    try:
        when = email.utils.parsedate_to_datetime(modified).timestamp() if modified else None
    except (TypeError, ValueError):  # a malformed date: keep the download time
        when = None
    if when:
        os.utime(path, (when, when))
    return path


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"
