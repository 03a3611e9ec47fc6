"""The web adapter: the customer API the widget uses, the admin API, health and metrics.

It only translates HTTP to :class:`bot.engine.Turn` and :class:`bot.engine.Reply` back; every
decision about the answer is the core's.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.sse import format_sse_event
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.conversations import ConversationState, Message, conversation_key
from bot.engine import Engine, Reply, Turn
from bot.messages import catalog_language, message
from bot.metrics import ERRORS, FEEDBACK, observe_reply
from linguadesk.settings import Settings

from . import schemas
from .headers import SecurityHeaders, docs_page
from .protection import (ApiError, ConversationTokens, RateLimits, TurnSlots, admin_key_of,
                         check_admin_key, check_trusted_proxies, client_address, given_key,
                         key_matches, origin_allowed, session_secret)
from .widget import widget_script

log = logging.getLogger(__name__)

CHANNEL = "web"


def create_app(settings: Settings, engine: Engine, knowledge_base, *,
               site: Path | None = None) -> FastAPI:
    """``knowledge_base``: a :class:`knowledge.admin.KnowledgeBase` on the engine's store;
    ``site``: a folder served at ``/`` (the demo shop)."""
    ops = settings.web_public_ops
    app = _App(title="Linguadesk", version="1", max_body_size=settings.web_max_body_bytes,
               description="Customer conversations (used by the widget), knowledge-base "
               "admin (API key), health and metrics.", docs_url=None, redoc_url=None,
               openapi_url=None if ops == "off" else "/openapi.json")
    tokens = ConversationTokens(session_secret(settings))
    limits = RateLimits(settings)
    slots = TurnSlots(settings.web_max_concurrent_turns, settings.web_queue_timeout_s)
    allowed = [o.rstrip("/") for o in settings.web_allowed_origins]
    admin_key = admin_key_of(settings)
    check_trusted_proxies(settings)
    kb = knowledge_base
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(CORSMiddleware, allow_origins=allowed, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "Accept"],
                       expose_headers=["Retry-After"], max_age=600)

    # --- errors -----------------------------------------------------------------------------

    def request_language(request: Request) -> str:
        return catalog_language(request.query_params.get("locale")
                                or _accepted_language(request))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error_response(exc.status, exc.code, exc.detail,
                              exc.language or request_language(request), exc.message_key,
                              exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error_response(422, "invalid_request", f"The request is not valid ({problems}). "
                              "See /docs for the expected body.", request_language(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 413:
            return _too_large(request_language(request))
        detail = {404: "No such endpoint; see /docs.", 405: "This method is not allowed here; "
                  "see /docs."}.get(exc.status_code, str(exc.detail))
        return _error_response(exc.status_code, "http_error", detail, request_language(request))

    # --- customer API -----------------------------------------------------------------------

    async def from_allowed_page(request: Request) -> None:
        if not origin_allowed(request, allowed):
            raise ApiError(403, "origin_not_allowed", f"Pages on {request.headers['origin']} "
                           "may not use this support API. Add the origin to "
                           "LINGUADESK_WEB_ALLOWED_ORIGINS on the server.")

    def client_ip(request: Request) -> str:
        return client_address(request.client.host if request.client else None,
                              settings.web_ipv6_prefix)

    def conversation(request: Request, conversation_id: str, locale: str | None = None) -> str:
        """Checks the token and the per-address limit; returns the conversation key."""
        language = catalog_language(locale or "") if locale else request_language(request)
        limits.hit("ip", client_ip(request), language)  # first: wrong tokens count too
        if not tokens.check(conversation_id, request.headers.get("authorization")):
            raise ApiError(401, "bad_token", "Missing or wrong conversation token. Send the "
                           "token from POST /v1/conversations as 'Authorization: Bearer "
                           "<token>', or start a new conversation.", language=language)
        key = conversation_key(CHANNEL, conversation_id)
        if not engine.conversations.exists(key):
            raise ApiError(404, "conversation_expired", "This conversation has expired or was "
                           "never started; start a new one with POST /v1/conversations.",
                           message_key="conversation_restarted", language=language)
        return key

    def language_of(key: str, locale: str | None) -> str:
        state = engine.conversations.state(key)
        return (state.locked_language or state.language
                or catalog_language(locale or engine.default_language))

    customer = [Depends(from_allowed_page)]
    errors = {429: {"model": schemas.ErrorOut}, 401: {"model": schemas.ErrorOut},
              404: {"model": schemas.ErrorOut}, 413: {"model": schemas.ErrorOut}}

    @app.post("/v1/conversations", status_code=201, response_model=schemas.ConversationCreated,
              dependencies=customer, responses=errors, tags=["conversations"])
    def start_conversation(request: Request, body: schemas.NewConversation | None = None):
        """Start a conversation; keep the id and token (the widget keeps them in local
        storage) to continue it later."""
        locale = body.locale if body else None
        language = catalog_language(locale or request_language(request))
        limits.hit("new_conversation", client_ip(request), language)
        limits.hit("ip", client_ip(request), language)
        conversation_id, token = tokens.new()
        key = conversation_key(CHANNEL, conversation_id)
        engine.conversations.save_state(key, ConversationState())
        return schemas.ConversationCreated(id=conversation_id, token=token, language=language,
                                           greeting=message("greeting", language))

    @app.get("/v1/conversations/{conversation_id}", response_model=schemas.ConversationOut,
             dependencies=customer, responses=errors, tags=["conversations"])
    def show_conversation(request: Request, conversation_id: str,
                          after: Annotated[float, Query(description="Only messages newer than "
                                                        "this time (Unix seconds).")] = 0.0):
        """The conversation's messages as the server keeps them. While a person has the
        conversation the widget polls this for their replies (role ``agent``)."""
        key = conversation(request, conversation_id)
        state = engine.conversations.state(key)
        return schemas.ConversationOut(
            id=conversation_id, language=state.language, handed_off=state.handed_off,
            messages=[schemas.MessageOut(role=m.role, text=m.text, language=m.language,
                                         at=m.at, id=m.id)
                      for m in engine.conversations.messages(key) if m.at > after])

    @app.post("/v1/conversations/{conversation_id}/messages", dependencies=customer,
              response_model=schemas.ReplyOut, tags=["conversations"], responses={
                  **errors, 200: {"content": {"text/event-stream": {
                      "description": "events 'start' {reply_id, language}, 'token' {text} "
                      "(repeated), 'done' (the reply, as in JSON)"}}}})
    async def send_message(request: Request, conversation_id: str, body: schemas.MessageIn):
        """Ask. The answer comes as JSON, or streamed as server-sent events when the request
        says ``Accept: text/event-stream``."""
        key = await run_in_threadpool(conversation, request, conversation_id, body.locale)
        language = await run_in_threadpool(language_of, key, body.locale)
        if len(body.text) > settings.web_max_message_chars:
            raise ApiError(413, "message_too_long", f"The message has {len(body.text)} "
                           f"characters; the limit is {settings.web_max_message_chars}.",
                           message_key="message_too_long", language=language)
        await run_in_threadpool(limits.hit, "session", conversation_id, language)
        await run_in_threadpool(limits.hit, "worker_turns", "all", language)
        await slots.acquire(language)
        started = time.perf_counter()
        turn = Turn(text=body.text, conversation_id=key, user=f"web:{conversation_id}",
                    channel=CHANNEL, locale=body.locale, address=client_ip(request))
        try:
            reply = await run_in_threadpool(engine.answer, turn)
        except BaseException:  # failed or cancelled: the slot is free again
            slots.release()
            raise
        # The slot is held while the answer generates, and while the team's summary does when
        # the words asked for a person.
        free = functools.partial(_release_after, reply, slots.release)
        if "text/event-stream" in request.headers.get("accept", ""):
            return StreamingResponse(_events(reply, started, free),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache",
                                              "X-Accel-Buffering": "no"})
        try:
            await run_in_threadpool(reply.final)
        finally:
            free()
        observe_reply(reply, CHANNEL, time.perf_counter() - started)
        return _reply_out(reply)

    @app.post("/v1/conversations/{conversation_id}/feedback", response_model=schemas.FeedbackOut,
              dependencies=customer, responses=errors, tags=["conversations"])
    async def feedback(request: Request, conversation_id: str, body: schemas.FeedbackIn):
        """👍 / 👎 on one reply (its reply_id), with an optional comment."""
        key = await run_in_threadpool(conversation, request, conversation_id)
        language = await run_in_threadpool(language_of, key, None)
        found = await run_in_threadpool(engine.record_feedback, key, body.reply_id, body.rating,
                                        body.comment)
        if not found:
            raise ApiError(404, "reply_not_found", f"No reply {body.reply_id} in this "
                           "conversation; use a reply_id from one of its replies.",
                           language=language)
        FEEDBACK.labels(CHANNEL, body.rating).inc()
        return schemas.FeedbackOut(ok=True, message=message("feedback_thanks", language))

    @app.post("/v1/conversations/{conversation_id}/handoff", response_model=schemas.ReplyOut,
              dependencies=customer, responses=errors, tags=["conversations"])
    async def handoff(request: Request, conversation_id: str,
                      body: schemas.HandoffIn | None = None):
        """The customer asked for a person ("talk to a human")."""
        body = body or schemas.HandoffIn()
        key = await run_in_threadpool(conversation, request, conversation_id, body.locale)
        language = await run_in_threadpool(language_of, key, body.locale)
        await run_in_threadpool(limits.hit, "session", conversation_id, language)
        await run_in_threadpool(limits.hit, "worker_turns", "all", language)
        turn = Turn(text=body.text[:settings.web_max_message_chars], conversation_id=key,
                    user=f"web:{conversation_id}", channel=CHANNEL, locale=body.locale,
                    address=client_ip(request))
        started = time.perf_counter()
        # The summary and translation for the team are LLM calls: they hold a turn slot until
        # they are written, like an answer does (not while a slow receiver is waited for).
        await slots.acquire(language)
        try:
            reply = await run_in_threadpool(engine.start_handoff, turn,
                                            reason="customer_button", language=language)
            await run_in_threadpool(reply.final)
        except BaseException:
            slots.release()
            raise
        _release_after(reply, slots.release)
        observe_reply(reply, CHANNEL, time.perf_counter() - started)
        return _reply_out(reply)

    # --- admin API --------------------------------------------------------------------------

    def guessing_limited(request: Request, check) -> None:
        """Runs the key check, unless this address is locked out for guessing: then it is
        refused before the key is even compared, so a right guess cannot be told apart."""
        address = client_ip(request)
        limits.check("admin_failure", address, "en")
        try:
            check()
        except ApiError as exc:
            if exc.status == 401:
                limits.hit("admin_failure", address, "en")
            raise

    def admin_gate(request: Request) -> None:
        guessing_limited(request, lambda: check_admin_key(request, admin_key))

    def ops_gate(request: Request) -> None:
        """/docs, /openapi.json and /metrics with web_public_ops = "admin": the admin key as a
        bearer token (Prometheus) or as the password of HTTP Basic (a browser opening /docs)."""
        def check() -> None:
            if not admin_key:
                raise ApiError(403, "admin_api_disabled", "These pages need the admin key "
                               "(web_public_ops = \"admin\"), and none is set: set "
                               "LINGUADESK_ADMIN_API_KEY, or web_public_ops to public or off.")
            if not key_matches(given_key(request, basic=True), admin_key):
                raise ApiError(401, "bad_api_key", "These pages need the admin key: send it as "
                               "'Authorization: Bearer <key>', or as the password when the "
                               "browser asks.", headers={
                                   "WWW-Authenticate": 'Basic realm="Linguadesk operations"'})
        guessing_limited(request, check)

    def refuse(request, exc):
        return _error_response(exc.status, exc.code, exc.detail, "en", exc.message_key,
                               exc.headers)

    # Every /v1/admin/ path: checked before FastAPI reads a body, so nobody without the key
    # can make it spool an upload.
    app.add_middleware(_KeyGate, applies=lambda path: path.startswith("/v1/admin/"),
                       check=admin_gate, refuse=refuse)
    if ops == "admin":
        app.add_middleware(_KeyGate, applies=lambda path: path in OPS_PATHS, check=ops_gate,
                           refuse=refuse)

    admin_errors = {401: {"model": schemas.ErrorOut}, 403: {"model": schemas.ErrorOut}}

    @app.get("/v1/admin/stats", responses=admin_errors, tags=["admin"])
    async def stats():
        """Entries per language, source and product (as `linguadesk kb stats`)."""
        result = await run_in_threadpool(kb.stats)
        return {"entries": result.entries, "chunks": result.chunks,
                "by_language": result.by_language, "by_source": result.by_source,
                "by_product": result.by_product}

    @app.get("/v1/admin/sources", response_model=list[schemas.SourceOut],
             responses=admin_errors, tags=["admin"])
    async def list_sources():
        sources = await run_in_threadpool(kb.sources)
        return [schemas.SourceOut(source=s, chunks=n) for s, n in sorted(sources.items())]

    @app.post("/v1/admin/sources", response_model=schemas.IngestOut,
              responses=admin_errors, tags=["admin"], max_body_size=settings.web_max_upload_bytes)
    async def ingest_file(file: Annotated[UploadFile, File(description="A Markdown, CSV/TSV, "
                                                             "JSON/JSONL, HTML or PDF file.")],
                          product: Annotated[str, Form()] = "",
                          dry_run: Annotated[bool, Form()] = False):
        """Upload a FAQ file (as `linguadesk kb ingest`; stored as source ``upload:<name>``,
        so uploading the same name again syncs it)."""
        data = await file.read()
        report = await run_in_threadpool(lambda: kb.ingest_upload(
            file.filename or "", data, product=product, dry_run=dry_run))
        return _ingest_out(report)

    @app.post("/v1/admin/sources/url", response_model=schemas.IngestOut,
              responses=admin_errors, tags=["admin"])
    async def ingest_url(body: schemas.UrlIngestIn):
        """Fetch a FAQ page or file from a URL and sync it (source name: the URL)."""
        report = await run_in_threadpool(lambda: kb.ingest_url(
            body.url, product=body.product, dry_run=body.dry_run,
            max_bytes=settings.web_max_upload_bytes,
            allow_private=settings.web_ingest_private_urls))
        return _ingest_out(report)

    @app.delete("/v1/admin/sources", tags=["admin"],
                responses={**admin_errors, 404: {"model": schemas.ErrorOut}})
    async def delete_source(source: Annotated[str, Query(description="A stored source name "
                                                         "(see GET /v1/admin/sources).")]):
        resolved = await run_in_threadpool(kb.resolve_source, source)
        if resolved is None:
            raise ApiError(404, "source_not_found", f"No source matches {source!r}; "
                           "GET /v1/admin/sources lists them.")
        deleted = await run_in_threadpool(kb.delete_source, resolved)
        return {"source": resolved, "deleted_chunks": deleted}

    @app.post("/v1/admin/conversations/{conversation_id}/messages",
              responses={**admin_errors, 404: {"model": schemas.ErrorOut}}, tags=["admin"])
    def agent_message(conversation_id: str, body: schemas.AgentMessageIn):
        """A person of the support team answers a handed-off widget conversation; the customer
        sees it in the widget."""
        key = conversation_key(CHANNEL, conversation_id)
        if not engine.conversations.exists(key):
            raise ApiError(404, "conversation_not_found", f"No conversation {conversation_id} "
                           "(it may have expired); the handoff event names the conversation.")
        state = engine.conversations.state(key)
        sent = Message("agent", body.text.strip(), state.locked_language or state.language,
                       id=uuid.uuid4().hex)
        engine.conversations.append(key, sent)
        return {"id": sent.id, "at": sent.at, "handed_off": state.handed_off}

    @app.post("/v1/admin/conversations/{conversation_id}/release",
              responses=admin_errors, tags=["admin"])
    def release(conversation_id: str):
        """A person is done with a handed-off widget conversation: the bot answers again."""
        released = engine.release(conversation_key(CHANNEL, conversation_id))
        return {"released": released}

    # --- operations -------------------------------------------------------------------------

    @app.get("/healthz", tags=["operations"])
    async def healthz():
        try:
            entries = await run_in_threadpool(kb.store.count)
        except Exception as exc:
            ERRORS.labels("store_unavailable").inc()
            return JSONResponse({"status": "unavailable", "detail": f"The FAQ store does not "
                                 f"answer ({type(exc).__name__})."}, status_code=503)
        return {"status": "ok", "entries": entries}

    if ops != "off":
        @app.get("/metrics", tags=["operations"])
        async def metrics():
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        @app.get("/docs", include_in_schema=False)
        async def docs():
            return docs_page(app.openapi_url, f"{app.title} API")

    script = widget_script()

    @app.get("/widget.js", tags=["widget"], include_in_schema=False)
    async def widget():
        return Response(script, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    if site is not None:
        app.mount("/", StaticFiles(directory=site, html=True), name="site")
    return app


OPS_PATHS = frozenset({"/docs", "/openapi.json", "/metrics"})


def _release_after(reply: Reply, release) -> None:
    """Calls ``release`` (on the event loop, where this runs) once the reply's handoff summary
    is written; at once when the reply started none."""
    future = reply.handoff_summarised
    if future is None or future.done():
        return release()
    loop = asyncio.get_running_loop()

    def done(_future) -> None:
        try:
            loop.call_soon_threadsafe(release)
        except RuntimeError:  # the server is shutting down
            pass

    future.add_done_callback(done)


class _KeyGate:
    def __init__(self, app, applies, check, refuse):
        self.app, self.applies, self.check, self.refuse = app, applies, check, refuse

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.applies(scope["path"]):
            request = Request(scope)
            try:
                await run_in_threadpool(self.check, request)
            except ApiError as exc:
                return await self.refuse(request, exc)(scope, receive, send)
        await self.app(scope, receive, send)


class _App(FastAPI):
    def build_middleware_stack(self):
        # FastAPI's body limit answers outside every handler; this turns its plain-text 413
        # into the API's localized JSON error. Every response, errors too, gets its headers.
        return SecurityHeaders(_LocalizedTooLarge(super().build_middleware_stack()))


class _LocalizedTooLarge:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        replaced = False

        async def send_localized(event):
            nonlocal replaced
            if event["type"] == "http.response.start" and event["status"] == 413 and any(
                    name == b"content-type" and value.startswith(b"text/plain")
                    for name, value in event.get("headers", [])):
                replaced = True
                response = _too_large(catalog_language(_accepted_language(Request(scope))))
                await response(scope, receive, send)
                return
            if not replaced:
                await send(event)

        await self.app(scope, receive, send_localized)


def _error_response(status: int, code: str, detail: str, language: str,
                    message_key: str | None = None, headers: dict | None = None) -> JSONResponse:
    """The API's error body: a code, the customer's text, and what a developer should do."""
    text = message(message_key or "widget_error", language)
    return JSONResponse({"error": code, "message": text, "detail": detail},
                        status_code=status, headers=headers)


def _too_large(language: str) -> JSONResponse:
    return _error_response(413, "too_large", "The request body is larger than this server "
                           "accepts (web_max_body_bytes; web_max_upload_bytes for uploads).",
                           language, "message_too_long")


def _accepted_language(request: Request) -> str:
    """The first language of Accept-Language ("de-DE,de;q=0.9" → "de-DE"), or "en"."""
    return request.headers.get("accept-language", "").split(",")[0].split(";")[0] or "en"


def _reply_out(reply: Reply) -> schemas.ReplyOut:
    return schemas.ReplyOut(
        reply_id=reply.id, text=reply.text, language=reply.language, status=reply.status,
        confidence=round(reply.confidence, 4), grounded=reply.grounded,
        offer_handoff=reply.offer_handoff,
        citations=[schemas.CitationOut(number=c.number, title=c.title, url=c.url,
                                       source=_public_source(c.source), score=round(c.score, 4))
                   for c in reply.citations])


def _public_source(source: str) -> str:
    """A file path on the server is nobody's business: its name is enough."""
    if source.startswith(("http://", "https://", "upload:")):
        return source
    return Path(source).name


def _ingest_out(report) -> schemas.IngestOut:
    return schemas.IngestOut(
        ok=report.ok, warnings=report.warnings, errors=[str(e) for e in report.errors],
        sources=[{"source": p.source, "added": len(p.added), "updated": len(p.updated),
                  "deleted": len(p.deleted), "unchanged": p.unchanged} for p in report.plans])


async def _events(reply: Reply, started: float, done) -> AsyncIterator[str]:
    """start → token… → done (or error). The reply is generated in a worker thread that runs
    to the end even if the customer leaves mid-answer, so the turn is still recorded for the
    follow-up; the turn's slot is freed when generation ends."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the server is shutting down
            pass

    def generate() -> None:
        try:
            for token in reply:
                put(("token", token))
            put(("done", None))
        except Exception as exc:  # e.g. the conversation store failed while recording
            log.warning("streaming a reply failed: %s: %s", type(exc).__name__, exc)
            ERRORS.labels(type(exc).__name__).inc()
            put(("error", None))
        finally:
            try:
                loop.call_soon_threadsafe(done)
            except RuntimeError:
                pass

    loop.run_in_executor(None, generate)
    yield format_sse_event(event="start", data_str=json.dumps(
        {"reply_id": reply.id, "language": reply.language}))
    first = None
    while True:
        kind, token = await queue.get()
        if kind == "token":
            if not token:
                continue
            if first is None:
                first = time.perf_counter() - started
            yield format_sse_event(event="token", data_str=json.dumps({"text": token},
                                                                      ensure_ascii=False))
        elif kind == "done":
            yield format_sse_event(event="done", data_str=_reply_out(reply).model_dump_json())
            observe_reply(reply, CHANNEL, time.perf_counter() - started, first)
            return
        else:
            yield format_sse_event(event="error", data_str=json.dumps({
                "error": "stream_failed", "message": message("widget_error", reply.language),
                "detail": "The answer could not be finished; ask again."}, ensure_ascii=False))
            return
