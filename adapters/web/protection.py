"""What keeps the public API safe: conversation tokens, allowed origins, rate limits (IPv6 per
network, a budget per worker), a cap on turns running at once, the admin key (never from a
browser page, and no guessing once an address is locked out), and the response headers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from bot.metrics import RATE_LIMITED
from linguadesk.settings import ConfigError, Settings


class ApiError(Exception):
    """An error answered as JSON: ``code`` for programs, ``message_key`` (a catalog key,
    localized for the customer) or ``detail`` (English, for developers)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        message_key: str | None = None,
        language: str | None = None,
        headers: dict | None = None,
    ):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.message_key, self.language, self.headers = message_key, language, headers


# --- conversation tokens ------------------------------------------------------------------


def session_secret(settings: Settings) -> bytes:
    """The configured secret, or one generated once into the data dir (0600). Workers starting
    together agree on one file: it is written whole under another name, then linked in."""
    if settings.web.session_secret:
        secret = settings.web.session_secret.get_secret_value().encode()
    else:
        path = Path(settings.data_dir) / "web-session-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
            try:
                os.link(draft, path)
            except FileExistsError:  # another worker won: use its secret
                pass
            finally:
                draft.unlink()
        secret = path.read_text().strip().encode()
    if len(secret) < 32:
        raise ConfigError(
            "LINGUADESK_WEB__SESSION_SECRET (or data_dir/web-session-secret) must "
            "be at least 32 characters; generate one with `openssl rand -base64 "
            "32`."
        )
    return secret


class ConversationTokens:
    """A conversation id is public (it names the conversation in logs and handoffs); its token,
    an HMAC of the id, proves the caller is the one who started it. Nothing to store."""

    def __init__(self, secret: bytes):
        self._secret = secret

    def new(self) -> tuple[str, str]:
        conversation_id = secrets.token_hex(12)
        return conversation_id, self.token(conversation_id)

    def token(self, conversation_id: str) -> str:
        digest = hmac.new(self._secret, conversation_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def check(self, conversation_id: str, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.token(conversation_id).encode()
        )


# --- origins ------------------------------------------------------------------------------


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def origin_allowed(request: Request, allowed: list[str]) -> bool:
    """Requests without an Origin (servers, curl) pass; browsers' must be listed (or ours)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return "*" in allowed or origin.rstrip("/") in allowed or origin == own_origin(request)


def from_browser_page(request: Request) -> bool:
    """Browsers mark script requests with Origin and/or Sec-Fetch-Mode; a page's JavaScript
    cannot remove them."""
    return (
        "origin" in request.headers
        or request.headers.get("sec-fetch-mode", "navigate") != "navigate"
    )


MIN_ADMIN_KEY_CHARS = 32


def admin_key_of(settings: Settings) -> str | None:
    """The configured admin key, refused at start when it is short enough to guess."""
    key = settings.web.admin_api_key.get_secret_value() if settings.web.admin_api_key else None
    if key is not None and len(key) < MIN_ADMIN_KEY_CHARS:
        raise ConfigError(
            f"LINGUADESK_WEB__ADMIN_API_KEY has {len(key)} characters; it must have "
            f"at least {MIN_ADMIN_KEY_CHARS}. Generate one with `openssl rand "
            "-base64 32`, or unset it to turn the admin API off."
        )
    return key or None


def given_key(request: Request, *, basic: bool = False) -> str:
    """The key from 'Authorization: Bearer', 'X-API-Key' or, where ``basic`` (pages a browser
    opens, like /docs), the password of HTTP Basic authentication."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if basic and scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return ""
    return request.headers.get("x-api-key", "")


def key_matches(given: str, key: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), key.encode())


def require_admin_key(key: str | None) -> str:
    """The admin key, or the 403 that says the admin API is off."""
    if not key:
        raise ApiError(
            403,
            "admin_api_disabled",
            "The admin API is off. Set LINGUADESK_WEB__ADMIN_API_KEY on the server to turn it on.",
        )
    return key


def check_admin_key(request: Request, configured: str | None) -> None:
    key = require_admin_key(configured)
    if from_browser_page(request):
        raise ApiError(
            403,
            "admin_key_from_browser",
            "The admin API does not accept requests "
            "from web pages, so the key can never be used from the widget. Call it "
            "from a server, a script or the CLI.",
        )
    if not key_matches(given_key(request), key):
        raise ApiError(
            401,
            "bad_api_key",
            "Missing or wrong admin API key. Send it as "
            "'Authorization: Bearer <key>' (LINGUADESK_WEB__ADMIN_API_KEY).",
        )


def check_trusted_proxies(settings: Settings) -> None:
    """Trusting every sender's X-Forwarded-For lets any client choose its address (a load
    balancer appends to the header, it does not replace it), and with it its rate limits."""
    for entry in settings.web.trusted_proxies:
        if entry.strip() == "*":
            raise ConfigError(
                "LINGUADESK_WEB__TRUSTED_PROXIES must list the proxies' own "
                'addresses or networks (e.g. \'["10.0.0.5", "172.28.0.0/24"]\'), '
                'not "*": with "*" any client can pick the address its rate '
                "limits count by."
            )
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            if not entry.startswith("unix:"):
                raise ConfigError(
                    f"LINGUADESK_WEB__TRUSTED_PROXIES: {entry!r} is not an IP "
                    "address or network; list the proxies' addresses."
                ) from None
            continue
        # A private network may hold the proxies; a wide public one (or 0.0.0.0/0 in pieces)
        # is the same as "*".
        widest = (
            (24 if network.version == 4 else 64)
            if network.is_global
            else (8 if network.version == 4 else 32)
        )
        if network.prefixlen < widest:
            raise ConfigError(
                f"LINGUADESK_WEB__TRUSTED_PROXIES: {entry!r} is too wide to be "
                "the proxies' own addresses (at most /24 or /64 of public "
                "addresses, /8 or /32 of private ones); list the proxies."
            )


def client_address(host: str | None, ipv6_prefix: int) -> str:
    """The address rate limits count by: an IPv4 address, or the IPv6 network of
    ``ipv6_prefix`` bits (one customer gets a whole /64, so exact IPv6 addresses are free)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{ipv6_prefix}", strict=False))
    return str(address)


# --- rate limits --------------------------------------------------------------------------


@dataclass
class Limit:
    scope: str  # ip | session | new_conversation
    rule: object  # a limits.RateLimitItem


class RateLimits:
    """Moving-window limits in memory (one worker) or Redis (shared by all workers)."""

    # Counted in this worker alone, never in Redis: what one worker can take.
    PER_WORKER = frozenset({"worker_turns"})

    def __init__(self, settings: Settings):
        url = settings.redis_url.get_secret_value() if settings.redis_url else "memory://"
        self._shared = MovingWindowRateLimiter(storage_from_string(url))
        self._local = MovingWindowRateLimiter(MemoryStorage())
        named = {
            "ip": settings.web.rate_limit_ip,
            "session": settings.web.rate_limit_session,
            "new_conversation": settings.web.rate_limit_new_conversations,
            "admin_failure": "10/minute",  # wrong admin keys per address
            "worker_turns": settings.web.rate_limit_worker_turns,
        }
        self.limits = {}
        for scope, text in named.items():
            try:
                self.limits[scope] = parse(text)
            except ValueError as exc:
                raise ConfigError(
                    f"The rate limit {text!r} for {scope} is not valid ({exc}). "
                    "Write limits like '60/minute' or '5/second'."
                ) from exc

    def _limiter(self, scope: str) -> MovingWindowRateLimiter:
        return self._local if scope in self.PER_WORKER else self._shared

    def hit(self, scope: str, key: str, language: str) -> None:
        """Counts one request; raises a localized 429 when the limit is used up."""
        if not self._limiter(scope).hit(self.limits[scope], "linguadesk", scope, key):
            self._refuse(scope, key, language)

    def check(self, scope: str, key: str, language: str) -> None:
        """Raises the 429 when the limit is used up, without counting a request."""
        if not self._limiter(scope).test(self.limits[scope], "linguadesk", scope, key):
            self._refuse(scope, key, language)

    def _refuse(self, scope: str, key: str, language: str) -> None:
        rule = self.limits[scope]
        reset = self._limiter(scope).get_window_stats(rule, "linguadesk", scope, key).reset_time
        retry_after = max(1, int(reset - time.time()) + 1)
        RATE_LIMITED.labels(scope).inc()
        key_name = "busy" if scope in self.PER_WORKER else "slow_down"
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests ({scope} limit {rule}); retry after {retry_after} s.",
            message_key=key_name,
            language=language,
            headers={"Retry-After": str(retry_after)},
        )


class TurnSlots:
    """At most N turns generate at once in this worker; the rest wait, then get a 429."""

    def __init__(self, size: int, wait_s: float):
        self._semaphore = asyncio.Semaphore(size)
        self.wait_s = wait_s

    async def acquire(self, language: str) -> None:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.wait_s)
        except TimeoutError:
            RATE_LIMITED.labels("busy").inc()
            raise ApiError(
                429,
                "busy",
                f"All answer slots stayed busy for {self.wait_s:.0f} s; retry in a minute.",
                message_key="busy",
                language=language,
                headers={"Retry-After": "60"},
            ) from None

    def release(self) -> None:
        self._semaphore.release()
