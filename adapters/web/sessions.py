"""The support console's sessions: the admin key, typed once into the sign-in form, is
exchanged for a cookie the page's JavaScript cannot read (HttpOnly, SameSite=Strict), and
every request that changes something also carries a CSRF token the page holds in memory only.

A session is signed, not stored: ``<expires>.<nonce>.<signature>``. The signature covers the
admin key's hash, so changing the key ends every session. Signing out removes the cookie; a
copy of it taken before (it never reaches JavaScript) stays valid until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from fastapi import Request

from .protection import ApiError, origin_allowed

COOKIE = "linguadesk_console"
CSRF_HEADER = "x-csrf-token"
SESSION_PATH = "/v1/admin/session"
TTL_S = 8 * 3600  # a working day
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class ConsoleSessions:
    def __init__(self, secret: bytes, admin_key: str | None, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        key_hash = hashlib.sha256((admin_key or "").encode()).digest()
        self._key = hmac.new(secret, b"console-session:" + key_hash, hashlib.sha256).digest()

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())

    def new(self) -> str:
        body = f"{int(time.time() + self.ttl_s)}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._sign(body)}"

    def valid(self, session: str) -> bool:
        body, _, signature = session.rpartition(".")
        expires, _, nonce = body.partition(".")
        if not (session.isascii() and expires.isdigit() and nonce and signature):
            return False
        return (
            hmac.compare_digest(signature.encode(), self._sign(body).encode())
            and int(expires) > time.time()
        )

    def csrf(self, session: str) -> str:
        return self._sign("csrf:" + session)

    def check(self, request: Request) -> None:
        """A console request: a live session, from our own page, with the CSRF token when it
        changes something."""
        check_own_page(request)
        session = request.cookies.get(COOKIE, "")
        if not self.valid(session):
            raise ApiError(
                401,
                "session_expired",
                "The console session is missing or has expired: sign in again at /admin.",
            )
        if request.method not in SAFE_METHODS and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, "").encode(), self.csrf(session).encode()
        ):
            raise ApiError(
                403,
                "csrf_token_missing",
                f"This request changes something and has no valid {CSRF_HEADER} header; "
                "reload the console and try again.",
            )


def check_own_page(request: Request) -> None:
    """Console requests come from this server's own /admin page (or from no page at all)."""
    if not origin_allowed(request, []):
        raise ApiError(
            403,
            "origin_not_allowed",
            "Console requests must come from this server's own /admin page, "
            f"not {request.headers['origin']}.",
        )


def secure_cookie(request: Request) -> bool:
    """Secure over HTTPS (behind a trusted proxy, uvicorn sets the scheme it was told)."""
    return request.url.scheme == "https"
