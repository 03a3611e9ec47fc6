"""A turn's answer in a Discord channel. The turn runs in a worker thread (the engine is
synchronous); every call to Discord runs on the client's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future, wait
from typing import Any, TypeVar

import discord

from bot.reply import Reply

from .views import streaming_preview

Finish = Callable[[discord.Message, Reply, str], Awaitable[None]]
_T = TypeVar("_T")


class ChannelAnswer:
    """``finish(sent, reply, text)``: turns the placeholder ``sent`` into the whole answer."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: discord.abc.Messageable,
        finish: Finish,
        *,
        reply_to: discord.Message | None = None,
    ):
        self.loop, self.channel, self.reply_to, self._finish = loop, channel, reply_to, finish
        self.sent: discord.Message | None = None
        self._preview: Future | None = None

    def placeholder(self, text: str) -> None:
        self.sent = self._on_loop(self._send(text))

    async def _send(self, text: str) -> discord.Message:
        async with self.channel.typing():
            if self.reply_to is not None:
                return await self.reply_to.reply(text, mention_author=False)
            return await self.channel.send(text)

    def preview(self, text: str) -> None:
        # Never wait on the loop from here; skip a preview while the last is still going.
        if self._preview is not None and not self._preview.done():
            return
        if self.sent is None:  # the placeholder never went out: nothing to edit
            return
        self._preview = asyncio.run_coroutine_threadsafe(
            self.sent.edit(content=streaming_preview(text)), self.loop
        )

    def finish(self, reply: Reply, text: str) -> None:
        self._on_loop(self._complete(reply, text))

    async def _complete(self, reply: Reply, text: str) -> None:
        if self._preview is not None:  # the last preview must not land after the answer
            await asyncio.gather(asyncio.wrap_future(self._preview), return_exceptions=True)
        if self.sent is None:
            raise RuntimeError("the answer's placeholder message was never sent")
        await self._finish(self.sent, reply, text)

    def _on_loop(self, coro: Coroutine[Any, Any, _T]) -> _T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        # A loop stopped before running it would leave this thread (and the process's exit,
        # which joins the worker threads) waiting for ever.
        while wait([future], timeout=1.0).not_done:
            if not self.loop.is_running():
                future.cancel()
                break
        return future.result()
