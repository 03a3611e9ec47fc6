"""The API's errors: a JSON body with a stable code, the customer's text in their language and
what a developer should do, for the API's own errors, invalid requests and HTTP errors alike."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.messages import catalog_language, message

from .protection import ApiError


def error_response(
    status: int,
    code: str,
    detail: str,
    language: str,
    message_key: str | None = None,
    headers: dict | None = None,
) -> JSONResponse:
    """The API's error body: a code, the customer's text, and what a developer should do."""
    text = message(message_key or "widget_error", language)
    return JSONResponse(
        {"error": code, "message": text, "detail": detail}, status_code=status, headers=headers
    )


def too_large(language: str) -> JSONResponse:
    return error_response(
        413,
        "too_large",
        "The request body is larger than this server "
        "accepts (web_max_body_bytes; web_max_upload_bytes for uploads).",
        language,
        "message_too_long",
    )


def accepted_language(request: Request) -> str:
    """The first language of Accept-Language ("de-DE,de;q=0.9" → "de-DE"), or "en"."""
    return request.headers.get("accept-language", "").split(",")[0].split(";")[0] or "en"


def request_language(request: Request) -> str:
    """The catalog language for a request's fixed texts: its ?locale=, else the browser's."""
    return catalog_language(request.query_params.get("locale") or accepted_language(request))


async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(
        exc.status,
        exc.code,
        exc.detail,
        exc.language or request_language(request),
        exc.message_key,
        exc.headers,
    )


async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return error_response(
        422,
        "invalid_request",
        f"The request is not valid ({problems}). See /docs for the expected body.",
        request_language(request),
    )


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 413:
        return too_large(request_language(request))
    detail = {
        404: "No such endpoint; see /docs.",
        405: "This method is not allowed here; see /docs.",
    }.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, "http_error", detail, request_language(request))


HANDLERS: dict[int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]] = {
    ApiError: api_error,
    RequestValidationError: invalid,
    StarletteHTTPException: http_error,
}


class LocalizedTooLarge:
    """FastAPI's body limit answers outside every handler; this turns its plain-text 413 into
    the API's localized JSON error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        replaced = False

        async def send_localized(event: Message) -> None:
            nonlocal replaced
            if (
                event["type"] == "http.response.start"
                and event["status"] == 413
                and any(
                    name == b"content-type" and value.startswith(b"text/plain")
                    for name, value in event.get("headers", [])
                )
            ):
                replaced = True
                response = too_large(catalog_language(accepted_language(Request(scope))))
                await response(scope, receive, send)
                return
            if not replaced:
                await send(event)

        await self.app(scope, receive, send_localized)
