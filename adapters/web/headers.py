"""Response headers for each kind of response: the API (data, never a page), the widget script
(embedded by other sites), the API docs page, and the pages of a served site (the demo shop)."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_COMMON = {"X-Content-Type-Options": "nosniff"}

API = {
    **_COMMON,
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# Loaded by <script src> from the allowed shops' pages, so it must be readable cross-origin.
WIDGET = {
    **_COMMON,
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
# The widget styles itself with a <style> in its shadow root, hence 'unsafe-inline' for styles.
SITE = {
    **_COMMON,
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
}

# The console: its own script and style, charts as images, the admin API; nothing inline.
CONSOLE = {
    **_COMMON,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
}

_API_PATHS = ("/v1/", "/healthz", "/metrics", "/openapi.json", "/slack/")


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    """Swagger UI (from its CDN, as FastAPI serves it) with a policy that allows its one inline
    script by hash and nothing else inline."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title=title)
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    )
    cdn = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"  # what FastAPI's page loads
    policy = (
        f"default-src 'none'; script-src {cdn} {hashes}; style-src {cdn} 'unsafe-inline'; "
        f"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(
        html,
        headers={
            **_COMMON,
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": policy,
        },
    )


def headers_for(path: str) -> dict[str, str]:
    if path == "/widget.js":
        return WIDGET
    if path.startswith(_API_PATHS):
        return API
    if path == "/admin" or path.startswith("/admin/"):
        return CONSOLE
    return SITE


class SecurityHeaders:
    """Adds the headers that suit the path to every response, keeping any a route set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = headers_for(scope["path"])

        async def send_with_headers(event: Message) -> None:
            if event["type"] == "http.response.start":
                present = {name.lower() for name, _ in event.get("headers", [])}
                event = {
                    **event,
                    "headers": [
                        *event.get("headers", []),
                        *(
                            (name.lower().encode(), value.encode())
                            for name, value in extra.items()
                            if name.lower().encode() not in present
                        ),
                    ],
                }
            await send(event)

        await self.app(scope, receive, send_with_headers)
