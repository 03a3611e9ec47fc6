"""Starts the Slack adapter next to the web server: Socket Mode when an app-level token is
set, else the Events API endpoint ``POST /slack/events`` on the web server."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

from adapters.platforms import PlatformError
from linguadesk.settings import Settings

from .app import SlackAdapter

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.engine import Engine
    from knowledge.admin import KnowledgeBase

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def mount_events_endpoint(web_app: FastAPI, bolt_app: App, path: str = EVENTS_PATH) -> None:
    """Events, interactivity and slash commands all arrive here (the Request URL of each).
    The web app keeps a site it serves at "/" behind the routers included in it."""
    router = APIRouter()

    @router.post(path, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # Bolt verifies the signature, acknowledges, and hands listeners to its thread pool;
        # only the acknowledgement is waited for, off the event loop.
        response = await run_in_threadpool(bolt_app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    web_app.include_router(router)


class RunningSlack:
    def __init__(self, adapter: SlackAdapter, handler: SocketModeHandler | None):
        self.adapter, self.handler = adapter, handler
        self.platform = "Slack"
        self.mode = "Socket Mode" if handler else f"Events API at {EVENTS_PATH}"

    def stop(self) -> None:
        if self.handler is not None:
            self.handler.close()
        self.adapter.close()


def start_slack(
    settings: Settings,
    engine: Engine,
    kb: KnowledgeBase,
    web_app: FastAPI | None,
    *,
    client: WebClient | None = None,
) -> RunningSlack:
    from urllib.error import URLError

    from slack_bolt.error import BoltError

    try:  # Bolt checks the token with auth.test right away
        adapter = SlackAdapter(settings, engine, kb, client=client)
    except BoltError as exc:
        raise PlatformError(
            f"Slack refused the bot token ({exc}). Copy the Bot User OAuth "
            "Token (xoxb-…) again from the app's Install App page into "
            "LINGUADESK_SLACK__BOT_TOKEN."
        ) from None
    except (URLError, OSError) as exc:
        raise PlatformError(
            f"Cannot reach Slack at {settings.slack.api_url} ({exc}). Check "
            "the network, proxy or slack_api_url, then start again."
        ) from None
    if settings.slack.app_token is not None:
        handler = SocketModeHandler(adapter.app, settings.slack.app_token.get_secret_value())
        handler.connect()
        log.info("slack: connected in Socket Mode")
        return RunningSlack(adapter, handler)
    if settings.slack.signing_secret is None:
        raise PlatformError(
            "Slack needs LINGUADESK_SLACK__APP_TOKEN (xapp-…, Socket Mode) or "
            "LINGUADESK_SLACK__SIGNING_SECRET (Events API at /slack/events); "
            "see docs/slack.md."
        )
    if web_app is None:
        raise PlatformError(
            "The Events API mode needs the web server: start it with `linguadesk serve`."
        )
    mount_events_endpoint(web_app, adapter.app)
    log.info("slack: receiving events at %s", EVENTS_PATH)
    return RunningSlack(adapter, None)
