"""Runs the web adapter with uvicorn (``linguadesk serve``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from linguadesk.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from adapters.discord.runner import RunningDiscord
    from adapters.slack.runner import RunningSlack
    from bot.engine import Engine
    from knowledge.admin import KnowledgeBase
    from linguadesk.provision import Progress

log = logging.getLogger(__name__)


def build_web_app(
    settings: Settings, site: Path | None = None, progress: Progress | None = None
) -> tuple[FastAPI, Engine, KnowledgeBase]:
    from adapters.slack.notifier import slack_handoff_notifiers
    from knowledge.admin import KnowledgeBase
    from knowledge.limits import IngestLimits
    from runtime import build_engine, build_store

    from .app import create_app

    store = build_store(settings, progress)
    engine = build_engine(settings, store=store, notifiers=slack_handoff_notifiers(settings))
    kb = KnowledgeBase(
        store, IngestLimits.from_settings(settings.ingest), url_proxy=settings.ingest.url_proxy
    )
    return create_app(settings, engine, kb, site=site), engine, kb


def warm_up(engine: Engine) -> threading.Thread:
    """Starts the language model in the background, so the first customer doesn't wait."""

    def start() -> None:
        try:
            _ = engine.llm
        except Exception as exc:  # turns will report it to customers as "unavailable"
            log.warning("the language model did not start: %s: %s", type(exc).__name__, exc)

    thread = threading.Thread(target=start, name="llm-warm-up", daemon=True)
    thread.start()
    return thread


def serve(
    app: FastAPI,
    engine: Engine,
    settings: Settings,
    *,
    host: str,
    port: int,
    chat: Iterable[RunningSlack | RunningDiscord] = (),
) -> None:
    """``chat``: the started Slack/Discord adapters, stopped when the server stops."""
    warm_up(engine)
    try:
        # log_config=None: uvicorn's records go through the one configured handler (text or
        # JSON, secrets redacted).
        uvicorn.run(
            app,
            host=host,
            port=port,
            proxy_headers=True,
            log_config=None,
            forwarded_allow_ips=settings.web.trusted_proxies,
            log_level=settings.log.level.lower(),
            timeout_graceful_shutdown=10,
        )
    finally:
        for adapter in chat:
            adapter.stop()
