"""Runs the Discord bot in its own thread and event loop, next to the web server."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import TYPE_CHECKING

from adapters.platforms import PlatformError
from linguadesk.settings import ConfigError, Settings

from .app import LinguadeskBot

if TYPE_CHECKING:
    from bot.engine import Engine
    from knowledge.admin import KnowledgeBase

log = logging.getLogger(__name__)


class RunningDiscord:
    platform = "Discord"
    mode = "gateway"

    def __init__(self, client: LinguadeskBot, token: str):
        self.client = client
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, args=(token,), name="discord", daemon=True)

    def _run(self, token: str) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.client.start(token))
        except Exception:
            log.exception(
                "discord: the bot stopped; check LINGUADESK_DISCORD__BOT_TOKEN and the "
                "Message Content intent (docs/discord.md)"
            )
        finally:
            # start() returns as soon as close() has begun: let close() and the rest finish.
            pending = asyncio.all_tasks(self.loop)
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self.client.close()))
            self.thread.join(timeout=20)


# Settings of older versions, which Settings would silently ignore.
_REPLACED = {
    "LINGUADESK_DISCORD_GUILD_ID": "LINGUADESK_DISCORD__ADMIN_GUILD_IDS (server ids, e.g. "
    "'[123456789012345678]')",
    "LINGUADESK_DISCORD_ADMIN_ROLE": "LINGUADESK_DISCORD__ADMIN_ROLE_IDS (role ids, e.g. "
    "'[234567890123456789]'; names are no longer matched)",
}


def _check_settings(settings: Settings) -> None:
    """/kb changes the knowledge base every server shares: it must know its servers."""
    env = {name.upper() for name, value in os.environ.items() if value.strip()}
    old = [f"{name} was replaced by {new}" for name, new in _REPLACED.items() if name in env]
    if old:
        raise PlatformError(
            "Discord: " + "; ".join(old) + ". Set the new setting and remove "
            "the old one; see docs/discord.md."
        )
    if not settings.discord.admin_guild_ids:
        raise PlatformError(
            "Discord: set LINGUADESK_DISCORD__ADMIN_GUILD_IDS to the servers where /kb may manage "
            "the knowledge base, e.g. '[123456789012345678]' (in Discord, User Settings → "
            "Advanced → Developer Mode, then right-click your server → Copy Server ID). The "
            "knowledge base is shared by every server the bot is in; see docs/discord.md."
        )


def start_discord(settings: Settings, engine: Engine, kb: KnowledgeBase) -> RunningDiscord:
    _check_settings(settings)
    if settings.discord.bot_token is None:
        raise ConfigError(
            "LINGUADESK_DISCORD__BOT_TOKEN is not set: the Discord adapter needs "
            "your bot's token (docs/discord.md)."
        )
    running = RunningDiscord(
        LinguadeskBot(settings, engine, kb), settings.discord.bot_token.get_secret_value()
    )
    running.thread.start()
    return running
