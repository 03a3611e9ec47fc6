"""Fetching a FAQ source from a URL (admin commands: `kb ingest https://…`, the admin API)."""

from __future__ import annotations

import email.utils
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpcore
import httpx

from .entries import SourceError
from .loaders import SUPPORTED_SUFFIXES

if TYPE_CHECKING:
    import ssl

    from httpcore._backends.base import SOCKET_OPTION

_SUFFIX_BY_TYPE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "application/json": ".json",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/pdf": ".pdf",
    "text/plain": ".md",
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


class _PrivateAddress(Exception):
    """A host resolved to an address that is not public (the message is the address)."""


def download(
    url: str,
    folder: Path,
    *,
    max_bytes: int,
    timeout_s: float = 30.0,
    allow_private: bool = True,
    proxy: str | None = None,
) -> Path:
    """Saves ``url`` into ``folder`` as ``download<suffix>``, the suffix naming its format (from
    the path, else the Content-Type); the file's time is the server's Last-Modified.

    ``timeout_s`` bounds the whole fetch: name lookups, connects, every redirect and the body.
    ``allow_private=False`` (the admin API) fetches only from public addresses: each host is
    resolved once, every address checked, and the connection made to a checked one.
    ``proxy`` (the ingest_url_proxy setting): every fetch goes through this HTTP proxy, which
    resolves the hosts itself, so it must refuse private addresses too; ours is then only a
    first check."""
    if not is_url(url):
        raise SourceError(url, "is not an http(s) URL")
    deadline = time.monotonic() + timeout_s
    current = url
    try:
        # trust_env=False: no proxy or .netrc from the environment (the CA bundle it names is
        # still used).
        with httpx.Client(
            transport=_CheckedTransport(deadline, allow_private, proxy),
            timeout=timeout_s,
            trust_env=False,
            follow_redirects=False,
            headers={"User-Agent": "linguadesk-kb-ingest", "Accept-Encoding": "identity"},
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                if proxy and not allow_private:
                    _check_host(urlsplit(current).hostname or "", deadline)
                with client.stream("GET", current) as response:
                    if response.is_redirect:
                        current = str(response.url.join(response.headers["location"]))
                        continue
                    if response.status_code >= 400:
                        raise SourceError(
                            url,
                            f"answered HTTP {response.status_code}; check the "
                            "URL and that the page is public",
                        )
                    data = bytearray()
                    for chunk in response.iter_raw():
                        data += chunk
                        if len(data) > max_bytes:
                            raise SourceError(
                                url,
                                f"is larger than {_size(max_bytes)}; split it "
                                "or raise the upload limit",
                            )
                    content_type = response.headers.get("content-type", "").split(";")[0]
                    modified = response.headers.get("last-modified")
                    final_path = urlsplit(current).path
                    break
            else:
                raise SourceError(url, f"redirects more than {MAX_REDIRECTS} times")
    except SourceError:
        raise
    except _PrivateAddress as exc:
        raise SourceError(
            url,
            f"{_where(url, current)} at a private address ({exc}), which the "
            "admin API does not fetch; set LINGUADESK_WEB__INGEST_PRIVATE_URLS=true "
            "to allow it, or use `linguadesk kb ingest` on the server",
        ) from exc
    except socket.gaierror as exc:
        host = urlsplit(current).hostname
        raise SourceError(
            url, f"names a host that does not resolve ({host}: {exc.strerror}); check the URL"
        ) from exc
    except httpx.TimeoutException as exc:  # every wait is cut to the time left, see _time_left
        raise SourceError(
            url, f"took longer than {timeout_s:.0f} s to download; try again or upload the file"
        ) from exc
    except httpx.HTTPError as exc:
        raise SourceError(
            url,
            f"could not be downloaded ({type(exc).__name__}: {exc}); check "
            "the URL and that this server can reach it",
        ) from exc
    except ValueError as exc:  # a malformed URL or redirect target
        raise SourceError(url, f"is not a valid URL ({exc})") from exc
    suffix = Path(unquote(final_path)).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        suffix = _SUFFIX_BY_TYPE.get(content_type.strip().lower(), "")
        if not suffix:
            raise SourceError(
                url,
                f"has an unsupported type ({content_type or 'unknown'}); "
                "link a Markdown, CSV/TSV, JSON/JSONL, HTML or PDF file",
            )
    path = folder / f"download{suffix}"
    path.write_bytes(bytes(data))
    try:
        when = email.utils.parsedate_to_datetime(modified).timestamp() if modified else None
    except (TypeError, ValueError):  # a malformed date: keep the download time
        when = None
    if when:
        os.utime(path, (when, when))
    return path


def _where(url: str, current: str) -> str:
    return "points" if current == url else f"redirects to {source_name_for(current)}, which points"


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether the admin API may fetch from ``ip``. IPv6 forms that carry an IPv4 address
    (IPv4-mapped, -compatible or -translated, NAT64, 6to4, Teredo) are judged by that address,
    as traffic to them can end up there."""
    if ip.version == 6:
        if ip in _LOCAL_NAT64 or ip in _SITE_LOCAL:
            return False  # translated as this network chooses; or a private range of old
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(is_public(v4) for v4 in embedded)
    return ip.is_global and not ip.is_multicast


_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, but Python calls it global
# NAT64, IPv4-translated and IPv4-compatible addresses: the IPv4 address is the last 32 bits.
_LOW_32_BITS = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96")]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the Teredo server and the client
    if any(ip in network for network in _LOW_32_BITS):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _time_left(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    """The socket timeout for the next wait: never past the deadline of the whole download."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the time for the download ran out")
    return left if timeout is None else min(timeout, left)


def _resolve(host: str, port: int, seconds: float) -> list[str]:
    """The addresses of ``host``, in the resolver's order; the lookup gets ``seconds`` at most
    (getaddrinfo itself cannot be given a timeout, so it runs in a thread that may outlive us)."""
    answer: list = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.append(exc)

    thread = threading.Thread(target=lookup, name="linguadesk-url-dns", daemon=True)
    thread.start()
    thread.join(seconds)
    if not answer:
        raise httpcore.ConnectTimeout(f"looking up {host} took too long")
    if isinstance(answer[0], socket.gaierror):
        raise answer[0]
    if isinstance(answer[0], OSError):
        raise httpcore.ConnectError(f"looking up {host} failed: {answer[0]}")
    return list(dict.fromkeys(info[4][0] for info in answer[0]))


class _CheckedBackend(httpcore.SyncBackend):
    """Resolves each host once, checks every address when private ones are refused, and connects
    to a checked address: httpx would otherwise resolve again, and a second DNS answer could name
    another machine (DNS rebinding). TLS still verifies the certificate for the host name, since
    httpcore passes the URL's host to start_tls as the server name."""

    def __init__(self, deadline: float, allow_private: bool) -> None:
        self._deadline = deadline
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve(
            host, port, _time_left(self._deadline, timeout, httpcore.ConnectTimeout)
        )
        if not self._allow_private:
            _refuse_private(addresses)
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            left = _time_left(self._deadline, timeout, httpcore.ConnectTimeout)
            try:  # an IP literal: the base class connects without another lookup
                stream = super().connect_tcp(address, port, left, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failure


class _DeadlineStream(httpcore.NetworkStream):
    """Cuts every read and write to the time left, so a server that trickles its headers or body
    ends at the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(
            max_bytes, _time_left(self._deadline, timeout, httpcore.ReadTimeout)
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _refuse_private(addresses: list[str]) -> None:
    for address in addresses:
        if not is_public(ipaddress.ip_address(address.split("%")[0])):
            raise _PrivateAddress(address)


def _check_host(host: str, deadline: float) -> None:
    """Through a proxy: the host's addresses must be public (the proxy looks them up again)."""
    _refuse_private(_resolve(host, 80, _time_left(deadline, None, httpcore.ConnectTimeout)))


class _CheckedTransport(httpx.HTTPTransport):
    # httpx.HTTPTransport takes no network backend; its methods only use the pool in _pool.
    def __init__(self, deadline: float, allow_private: bool, proxy: str | None = None) -> None:
        context = httpx.create_ssl_context(trust_env=True)
        if proxy:  # the connection is to the proxy, wherever it is
            self._pool = httpcore.HTTPProxy(
                proxy_url=proxy,
                ssl_context=context,
                network_backend=_CheckedBackend(deadline, True),
            )
        else:
            self._pool = httpcore.ConnectionPool(
                ssl_context=context, network_backend=_CheckedBackend(deadline, allow_private)
            )


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"
