"""The admin key in front of ``/v1/admin/`` (and of the ops pages where web_public_ops is
"admin"), checked before FastAPI reads a body, so nobody without the key can make it spool an
upload. An address that guessed wrong too often is refused before its key is even compared."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from .deps import WebState, client_ip
from .errors import error_response
from .protection import ApiError, check_admin_key, given_key, key_matches
from .sessions import COOKIE, SESSION_PATH

OPS_PATHS = frozenset({"/docs", "/openapi.json", "/metrics"})


def is_admin_path(path: str) -> bool:
    return path.startswith("/v1/admin/")


def is_ops_path(path: str) -> bool:
    return path in OPS_PATHS


def guessing_limited(request: Request, check: Callable[[WebState], None]) -> None:
    """Runs the key check, unless this address is locked out for guessing: then it is
    refused before the key is even compared, so a right guess cannot be told apart."""
    web: WebState = request.app.state.web
    address = client_ip(request)
    web.limits.check("admin_failure", address, "en")
    try:
        check(web)
    except ApiError as exc:
        if exc.status == 401:
            web.limits.hit("admin_failure", address, "en")
        raise


def admin_gate(request: Request) -> None:
    """The admin key from a server or script, or the console's session from its page. Signing
    in (POST /v1/admin/session) checks the key itself."""
    if request.url.path == SESSION_PATH and request.method == "POST":
        return
    if COOKIE in request.cookies and not given_key(request):
        # An HMAC cannot be guessed, so a stale cookie counts as no key guess: a shift of
        # agents behind one address, each with yesterday's cookie, must not lock each other out.
        request.app.state.web.sessions.check(request)
        return
    guessing_limited(request, lambda web: check_admin_key(request, web.admin_key))


def ops_gate(request: Request) -> None:
    """/docs, /openapi.json and /metrics with web_public_ops = "admin": the admin key as a
    bearer token (Prometheus) or as the password of HTTP Basic (a browser opening /docs)."""

    def check(web: WebState) -> None:
        if not web.admin_key:
            raise ApiError(
                403,
                "admin_api_disabled",
                "These pages need the admin key "
                '(web_public_ops = "admin"), and none is set: set '
                "LINGUADESK_WEB__ADMIN_API_KEY, or web_public_ops to public or off.",
            )
        if not key_matches(given_key(request, basic=True), web.admin_key):
            raise ApiError(
                401,
                "bad_api_key",
                "These pages need the admin key: send it as "
                "'Authorization: Bearer <key>', or as the password when the "
                "browser asks.",
                headers={"WWW-Authenticate": 'Basic realm="Linguadesk operations"'},
            )

    guessing_limited(request, check)


class KeyGate:
    """Runs ``check`` on the requests whose path ``applies``; its ApiError is the answer."""

    def __init__(
        self, app: ASGIApp, applies: Callable[[str], bool], check: Callable[[Request], None]
    ) -> None:
        self.app, self.applies, self.check = app, applies, check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.applies(scope["path"]):
            request = Request(scope)
            try:
                await run_in_threadpool(self.check, request)
            except ApiError as exc:
                response = error_response(
                    exc.status, exc.code, exc.detail, "en", exc.message_key, exc.headers
                )
                return await response(scope, receive, send)
        await self.app(scope, receive, send)
