"""knowledge.remote.download against real HTTP servers on 127.0.0.1.

Nothing here reaches another machine: every name lookup is answered from the test's own table
(an IP literal is parsed locally, any other name fails), and a connect to an address outside
127.0.0.0/8 and ::1 is recorded and refused, or, for a "public" address a test routes, sent to
a local server standing in for it."""

from __future__ import annotations

import email.utils
import errno
import ipaddress
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from knowledge.entries import SourceError
from knowledge.remote import download, is_public

PUBLIC = "93.184.216.34"  # stands for a public web server; never really contacted
FAQ = b"## Do you ship abroad?\nYes, to 30 countries.\n"


class Network:
    def __init__(self):
        self.names: dict[str, object] = {}  # name -> address, list of them, or callable
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []  # attempts to non-loopback addresses
        self.routes: dict[tuple[str, int], tuple[str, int]] = {}
        self.release = threading.Event()  # ends lookups a test left hanging


@pytest.fixture(autouse=True)
def network(monkeypatch):
    net = Network()
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        net.lookups.append(name)
        if name in net.names:
            answer = net.names[name]
            answer = answer() if callable(answer) else answer
            return [
                info
                for address in ([answer] if isinstance(answer, str) else answer)
                for info in real_getaddrinfo(address, port, *args, **kwargs)
            ]
        try:
            ipaddress.ip_address(name.split("%")[0])  # a literal: parsed, nothing is sent
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(sock, address):
        if ipaddress.ip_address(address[0].split("%")[0]).is_loopback:
            return real_connect(sock, address)
        net.connects.append(tuple(address[:2]))
        if tuple(address[:2]) in net.routes:
            return real_connect(sock, net.routes[tuple(address[:2])])
        raise ConnectionRefusedError(errno.ECONNREFUSED, "refused by the test: not loopback")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    yield net
    net.release.set()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True  # (not HTTPServer: its server_bind looks up the host name)


@contextmanager
def site(routes, *, tls: ssl.SSLContext | None = None):
    """An HTTP server on 127.0.0.1. ``routes[path]`` is ``(status, headers, body)`` or
    ``handle(handler)``; ``yield``s ``(port, requests)``, each request ``(path, headers)``."""
    requests: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = routes.get(self.path.split("?")[0], (404, {}, b"not here"))
            if callable(route):
                return route(self)
            status, headers, body = route
            self.send_response(status)
            for key, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], requests
    finally:
        server.shutdown()
        server.server_close()


def trickle(data: bytes, every_s: float = 0.1):
    def handle(handler):
        try:
            for byte in data:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(every_s)
        except OSError:  # the client gave up
            pass

    return handle


def test_fetches_a_loopback_server_when_private_addresses_are_allowed(tmp_path):
    modified = "Wed, 21 Oct 2015 07:28:00 GMT"
    routes = {
        "/help/faq": (
            200,
            {"Content-Type": "text/markdown; charset=utf-8", "Last-Modified": modified},
            FAQ,
        ),
        "/old": (301, {"Location": "/help/faq"}, b""),
    }
    with site(routes) as (port, requests):
        path = download(
            f"http://127.0.0.1:{port}/old", tmp_path, max_bytes=10_000, allow_private=True
        )
    assert path.name == "download.md" and path.read_bytes() == FAQ
    assert path.stat().st_mtime == email.utils.parsedate_to_datetime(modified).timestamp()
    assert [p for p, _ in requests] == ["/old", "/help/faq"]
    assert requests[0][1]["host"] == f"127.0.0.1:{port}"


def test_a_public_host_is_fetched_by_its_name(network, tmp_path):
    network.names["faq.example"] = PUBLIC
    with site({"/faq.md": (200, {}, FAQ)}) as (port, requests):
        network.routes[(PUBLIC, 80)] = ("127.0.0.1", port)
        path = download(
            "http://faq.example/faq.md", tmp_path, max_bytes=10_000, allow_private=False
        )
    assert path.read_bytes() == FAQ
    assert requests[0][1]["host"] == "faq.example"
    assert network.connects == [(PUBLIC, 80)]


def test_connects_to_the_address_it_checked_not_a_second_dns_answer(network, tmp_path):
    answers = iter([PUBLIC])  # first lookup: public; any later one: this machine
    network.names["rebind.example"] = lambda: next(answers, "127.0.0.1")
    with site({"/faq.md": (200, {}, FAQ)}) as (port, requests):
        with pytest.raises(SourceError, match="could not be downloaded"):
            download(
                f"http://rebind.example:{port}/faq.md",
                tmp_path,
                max_bytes=10_000,
                allow_private=False,
            )
    assert requests == []  # the loopback server got nothing
    assert network.lookups.count("rebind.example") == 1
    assert network.connects == [(PUBLIC, port)]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::10.0.0.1",  # IPv4-compatible
        "::ffff:0:a00:1",  # IPv4-translated
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::808:808",  # local-use NAT64: translated as this network likes
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:0:f5ff:fffe",  # Teredo, client 10.0.0.1
        "fec0::1",  # site-local: deprecated, and Python calls it global
    ],
)
def test_refuses_private_and_embedded_private_addresses(network, tmp_path, address):
    network.names["intranet.example"] = address
    for url in (
        "http://intranet.example/faq.md",
        f"http://[{address}]/faq.md" if ":" in address else f"http://{address}/faq.md",
    ):
        with pytest.raises(SourceError) as caught:
            download(url, tmp_path, max_bytes=10_000, allow_private=False)
        assert caught.value.source == url
        shown = re.search(r"points at a private address \(([^)]+)\)", caught.value.problem)
        assert ipaddress.ip_address(shown[1]) == ipaddress.ip_address(address)
        assert "LINGUADESK_WEB__INGEST_PRIVATE_URLS" in caught.value.problem
    assert network.connects == []


def test_refuses_a_host_when_any_of_its_addresses_is_private(network, tmp_path):
    network.names["mixed.example"] = [PUBLIC, "10.0.0.1"]
    with pytest.raises(SourceError, match=r"private address \(10\.0\.0\.1\)"):
        download("http://mixed.example/faq.md", tmp_path, max_bytes=10_000, allow_private=False)
    assert network.connects == []


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC,
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::",
        "2001:0:4136:e378:8000:0:f7f7:fbfb",  # Teredo, client 8.8.4.4
    ],
)
def test_embedded_public_addresses_are_public(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/secret?token=abc",
        "http://[64:ff9b::7f00:1]:{port}/secret?token=abc",
    ],
)
def test_refuses_a_redirect_to_a_private_address(network, tmp_path, target):
    network.names["faq.example"] = PUBLIC
    with site({"/secret": (200, {}, FAQ)}) as (private_port, private_requests):
        target = target.format(port=private_port)
        with site({"/faq.md": (302, {"Location": target}, b"")}) as (port, requests):
            network.routes[(PUBLIC, 80)] = ("127.0.0.1", port)
            with pytest.raises(SourceError) as caught:
                download(
                    "http://faq.example/faq.md", tmp_path, max_bytes=10_000, allow_private=False
                )
    assert caught.value.source == "http://faq.example/faq.md"
    shown = target.split("?")[0]
    assert caught.value.problem.startswith(
        f"redirects to {shown}, which points at a private address"
    )
    assert "token" not in str(caught.value)
    assert [p for p, _ in requests] == ["/faq.md"] and private_requests == []


def _late_redirect(handler):
    time.sleep(0.4)
    handler.send_response(302)
    handler.send_header("Location", "/again")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@pytest.mark.parametrize("case", ["slow headers", "trickled body", "slow redirects", "slow DNS"])
def test_the_deadline_covers_the_whole_fetch(network, tmp_path, case):
    body = FAQ * 9
    headers = b"HTTP/1.1 200 OK\r\nContent-Type: text/markdown\r\nContent-Length: %d\r\n\r\n" % len(
        body
    )
    routes = {
        "/faq": {
            "slow headers": trickle(headers + body),
            "trickled body": lambda h: (h.wfile.write(headers), trickle(body)(h)),
            "slow redirects": _late_redirect,
            "slow DNS": (200, {}, body),
        }[case],
        "/again": _late_redirect,
    }

    def slow_lookup():
        network.release.wait(10)
        return "127.0.0.1"

    network.names["slow-dns.example"] = slow_lookup
    with site(routes) as (port, _):
        host = "slow-dns.example" if case == "slow DNS" else "127.0.0.1"
        started = time.monotonic()
        with pytest.raises(SourceError, match="took longer than 1 s to download"):
            download(
                f"http://{host}:{port}/faq",
                tmp_path,
                max_bytes=10_000,
                timeout_s=1,
                allow_private=True,
            )
        assert time.monotonic() - started < 3


def test_proxies_from_the_environment_are_not_used(monkeypatch, tmp_path):
    with (
        site({"/faq.md": (200, {}, FAQ)}) as (port, requests),
        site({}) as (proxy_port, proxy_requests),
    ):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
        path = download(
            f"http://127.0.0.1:{port}/faq.md", tmp_path, max_bytes=10_000, allow_private=True
        )
    assert path.read_bytes() == FAQ
    assert len(requests) == 1 and proxy_requests == []


def test_a_host_that_does_not_resolve_is_named(tmp_path):
    with pytest.raises(
        SourceError,
        match=r"names a host that does not resolve "
        r"\(nowhere\.example: Name or service not known\)",
    ):
        download("http://nowhere.example/faq.md", tmp_path, max_bytes=10_000)


def test_the_size_limit_still_holds(tmp_path):
    with site({"/faq.md": (200, {}, FAQ * 100)}) as (port, _):
        with pytest.raises(SourceError, match="is larger than 1 KB"):
            download(f"http://127.0.0.1:{port}/faq.md", tmp_path, max_bytes=1024)


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for faq.example (openssl makes it)."""
    if not shutil.which("openssl"):
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=faq.example",
            "-addext",
            "subjectAltName=DNS:faq.example",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_still_names_and_verifies_the_host(network, monkeypatch, tmp_path, certificate):
    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    names_sent = []
    server_tls.sni_callback = lambda sock, name, ctx: names_sent.append(name)
    monkeypatch.setattr(
        httpx, "create_ssl_context", lambda **kwargs: ssl.create_default_context(cafile=str(cert))
    )
    network.names["faq.example"] = "127.0.0.1"
    network.names["other.example"] = "127.0.0.1"
    with site({"/faq.md": (200, {}, FAQ)}, tls=server_tls) as (port, requests):
        path = download(f"https://faq.example:{port}/faq.md", tmp_path, max_bytes=10_000)
        assert path.read_bytes() == FAQ
        assert names_sent == ["faq.example"]
        assert requests[0][1]["host"] == f"faq.example:{port}"
        with pytest.raises(SourceError, match="could not be downloaded.*certificate"):
            download(f"https://other.example:{port}/faq.md", tmp_path, max_bytes=10_000)


def test_only_a_few_url_ingests_fetch_at_once(tmp_path):
    """Stuck fetches must not take the threads that customers' turns share: past the cap a
    URL ingest is refused at once, and a slot frees when a fetch ends."""
    from knowledge.admin import KnowledgeBase
    from knowledge.limits import IngestLimits

    kb = KnowledgeBase(store=None, limits=IngestLimits(max_concurrent_urls=1, url_timeout_s=3))
    release = threading.Event()

    def stuck(handler):
        release.wait(10)
        handler.send_response(503)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with site({"/stuck": stuck}) as (port, requests):
        first = threading.Thread(target=kb.ingest_url, args=(f"http://127.0.0.1:{port}/stuck",))
        first.start()
        deadline = time.monotonic() + 5
        while not requests and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        refused = kb.ingest_url(f"http://127.0.0.1:{port}/stuck")
        assert time.monotonic() - started < 0.5
        assert "the most URL ingests that run at once (1) are running" in str(refused.errors[0])
        release.set()
        first.join(10)
        later = kb.ingest_url(f"http://127.0.0.1:{port}/stuck")
    assert "answered HTTP 503" in str(later.errors[0]), "the slot is free again"
    assert len(requests) == 2


def _forward_proxy(seen: list):
    """A plain HTTP proxy on loopback: takes absolute-form requests and fetches them."""
    import urllib.request

    def handle(handler):
        seen.append(handler.path)
        with urllib.request.urlopen(handler.path, timeout=5) as upstream:
            body = upstream.read()
            handler.send_response(upstream.status)
            handler.send_header("Content-Type", upstream.headers["Content-Type"])
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

    return handle


def test_an_egress_proxy_can_be_configured(network, tmp_path):
    """Environment proxy variables are ignored; the ingest_url_proxy setting is used, for the
    operator's private URLs too, and public-only fetches still check the host first."""
    seen: list[str] = []
    with site({"/faq.md": (200, {"Content-Type": "text/markdown"}, FAQ)}) as (port, direct):
        url = f"http://127.0.0.1:{port}/faq.md"
        with site({url: _forward_proxy(seen)}) as (proxy_port, _):
            proxy = f"http://127.0.0.1:{proxy_port}"
            path = download(url, tmp_path, max_bytes=10_000, allow_private=True, proxy=proxy)
            assert path.read_bytes() == FAQ and seen == [url] and len(direct) == 1
            with pytest.raises(SourceError, match="private address"):
                download(url, tmp_path, max_bytes=10_000, allow_private=False, proxy=proxy)
    assert seen == [url], "refused before the proxy was asked"
