"""The web adapter: the customer API the widget uses (:mod:`.customer`), the admin API
(:mod:`.admin`), health, metrics and docs (:mod:`.ops`), wired into one FastAPI app.

It only translates HTTP to :class:`bot.reply.Turn` and :class:`bot.reply.Reply` back; every
decision about the answer is the core's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from bot.engine import Engine
from linguadesk.settings import Settings

from . import admin, console, customer, ops
from .deps import WebState
from .errors import HANDLERS, LocalizedTooLarge
from .gates import KeyGate, admin_gate, is_admin_path, is_ops_path, ops_gate
from .headers import SecurityHeaders
from .protection import (
    ConversationTokens,
    RateLimits,
    TurnSlots,
    admin_key_of,
    check_trusted_proxies,
    session_secret,
)
from .sessions import ConsoleSessions
from .widget import widget_script

if TYPE_CHECKING:  # importing it loads the vector store
    from knowledge.admin import KnowledgeBase


def create_app(
    settings: Settings, engine: Engine, knowledge_base: KnowledgeBase, *, site: Path | None = None
) -> FastAPI:
    """``knowledge_base``: a :class:`knowledge.admin.KnowledgeBase` on the engine's store;
    ``site``: a folder served at ``/`` (the demo shop), behind every router included, even
    those included after this returns (Slack's events endpoint)."""
    ops_pages = settings.web.public_ops
    app = WebApp(
        title="Linguadesk",
        version="1",
        max_body_size=settings.web.max_body_bytes,
        description="Customer conversations (used by the widget), knowledge-base "
        "admin (API key), health and metrics.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None if ops_pages == "off" else "/openapi.json",
        exception_handlers=HANDLERS,
    )
    secret = session_secret(settings)
    tokens = ConversationTokens(secret)
    limits = RateLimits(settings)
    slots = TurnSlots(settings.web.max_concurrent_turns, settings.web.queue_timeout_s)
    allowed = [o.rstrip("/") for o in settings.web.allowed_origins]
    admin_key = admin_key_of(settings)
    check_trusted_proxies(settings)
    widget_script()  # a script that lost its strings' marker stops the start, not a request
    app.state.web = WebState(
        settings=settings,
        engine=engine,
        kb=knowledge_base,
        tokens=tokens,
        limits=limits,
        slots=slots,
        allowed_origins=allowed,
        admin_key=admin_key,
        sessions=ConsoleSessions(secret, admin_key),
    )

    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    app.add_middleware(KeyGate, applies=is_admin_path, check=admin_gate)
    if ops_pages == "admin":
        app.add_middleware(KeyGate, applies=is_ops_path, check=ops_gate)

    app.include_router(customer.router)
    app.include_router(admin.router)
    app.include_router(admin.uploads, max_body_size=settings.web.max_upload_bytes)
    app.include_router(ops.router)
    app.include_router(console.router)
    app.include_router(console.pages)
    if ops_pages != "off":
        app.include_router(ops.pages)
    if site is not None:
        app.site = StaticFiles(directory=site, html=True)
    return app


class WebApp(FastAPI):
    # A site at "/" takes every path it is asked about, so it is mounted last, once the app
    # starts serving: routers included after create_app still come before it.
    site: StaticFiles | None = None

    def build_middleware_stack(self) -> ASGIApp:
        if self.site is not None:
            self.mount("/", self.site, name="site")
            self.site = None  # mounted
        # Every response, the body limit's 413 and other errors too, gets its headers.
        return SecurityHeaders(LocalizedTooLarge(super().build_middleware_stack()))
