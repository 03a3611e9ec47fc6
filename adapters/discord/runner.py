"""Runs the Discord bot in its own thread and event loop, next to the web server."""

from __future__ import annotations

import asyncio
import logging
import threading

from linguadesk.settings import Settings

from .app import LinguadeskBot

log = logging.getLogger(__name__)


class RunningDiscord:
    platform = "Discord"
    mode = "gateway"

    def __init__(self, client: LinguadeskBot, token: str):
        self.client = client
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, args=(token,), name="discord",
                                       daemon=True)

    def _run(self, token: str) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.client.start(token))
        except Exception:
            log.exception("discord: the bot stopped; check LINGUADESK_DISCORD_BOT_TOKEN and the "
                          "Message Content intent (docs/discord.md)")
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


def start_discord(settings: Settings, engine, kb) -> RunningDiscord:
    running = RunningDiscord(LinguadeskBot(settings, engine, kb),
                             settings.discord_bot_token.get_secret_value())
    running.thread.start()
    return running
