"""``linguadesk serve``: the web API and widget, with the configured chat platforms."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapters.platforms import start_chat_adapters
from linguadesk.logs import configure_logging
from linguadesk.settings import get_settings

from .console import ModelProgress, err, guarded


@guarded
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (web_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (web_port).")] = None,
    site: Annotated[
        Path | None,
        typer.Option(
            help="Also serve this folder at / (e.g. examples/demo-shop, a page with the widget).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Run the bot's web API and widget (http://HOST:PORT/widget.js, API docs at /docs), and
    the Slack and Discord bots whose tokens are configured."""
    # uvicorn and the web app take ~90 ms to import: only for serve, not for --help.
    from adapters.web.server import build_web_app
    from adapters.web.server import serve as run_server

    settings = get_settings()
    configure_logging(settings, settings.log.level.upper())
    host = host or settings.web.host
    port = port or settings.web.port
    where = f"http://{host}:{port}"
    err.print(
        f"Widget: {where}/widget.js · API docs: {where}/docs"
        + (f" · page: {where}/" if site else ""),
        highlight=False,
    )
    err.print(
        f"Support console: {where}/admin (sign in with the admin key)"
        if settings.web.admin_api_key
        else "Support console: off until LINGUADESK_WEB__ADMIN_API_KEY is set",
        highlight=False,
    )
    with ModelProgress() as report:
        web_app, engine, kb = build_web_app(settings, site, report)
    chat = start_chat_adapters(settings, engine, kb, web_app)
    for adapter in chat:
        err.print(f"{adapter.platform}: {adapter.mode}", highlight=False)
    run_server(web_app, engine, settings, host=host, port=port, chat=chat)
