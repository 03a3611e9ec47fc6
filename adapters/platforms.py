"""The chat platforms `linguadesk serve` starts next to the web server, for each one whose
token is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from linguadesk.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic import SecretStr

    from bot.engine import Engine
    from knowledge.admin import KnowledgeBase


class PlatformError(Exception):
    """A chat platform cannot start; the message says why and what to change."""


def start_chat_adapters(
    settings: Settings, engine: Engine, kb: KnowledgeBase, web_app: FastAPI | None
) -> list:
    """Each started adapter has ``stop()``. If one cannot start, those already started stop."""
    started: list[Any] = []  # RunningSlack / RunningDiscord, imported only when configured
    try:
        if _set(settings.slack.bot_token):
            from adapters.slack.runner import start_slack

            started.append(start_slack(settings, engine, kb, web_app))
        if _set(settings.discord.bot_token):
            from adapters.discord.runner import start_discord

            started.append(start_discord(settings, engine, kb))
    except BaseException:
        for adapter in started:
            adapter.stop()
        raise
    return started


def _set(secret: SecretStr | None) -> bool:
    """A token counts only when it has a value (an empty variable switches a platform off)."""
    return secret is not None and bool(secret.get_secret_value().strip())
