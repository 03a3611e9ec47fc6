"""A :class:`bot.reply.Reply` as the API answers it: one JSON body, or server-sent events while
it generates."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from pathlib import Path

from fastapi.sse import format_sse_event

from bot.messages import message
from bot.metrics import ERRORS
from bot.reply import Reply

from . import schemas

log = logging.getLogger(__name__)


def reply_out(reply: Reply) -> schemas.ReplyOut:
    return schemas.ReplyOut(
        reply_id=reply.id,
        text=reply.text,
        language=reply.language,
        status=reply.status,
        confidence=round(reply.confidence, 4),
        grounded=reply.grounded,
        offer_handoff=reply.offer_handoff,
        citations=[
            schemas.CitationOut(
                number=c.number,
                title=c.title,
                url=c.url,
                source=public_source(c.source),
                score=round(c.score, 4),
            )
            for c in reply.citations
        ],
    )


def public_source(source: str) -> str:
    """A file path on the server is nobody's business: its name is enough."""
    if source.startswith(("http://", "https://", "upload:")):
        return source
    return Path(source).name


def release_after(reply: Reply, release: Callable[[], None]) -> None:
    """Calls ``release`` (on the event loop, where this runs) once the reply's handoff summary
    is written; at once when the reply started none."""
    future = reply.handoff_summarised
    if future is None or future.done():
        return release()
    loop = asyncio.get_running_loop()

    def done(_future: Future) -> None:
        try:
            loop.call_soon_threadsafe(release)
        except RuntimeError:  # the server is shutting down
            pass

    future.add_done_callback(done)


async def events(reply: Reply, done: Callable[[], None]) -> AsyncIterator[bytes]:
    """start → token… → done (or error). The reply is generated in a worker thread that runs
    to the end even if the customer leaves mid-answer, so the turn is still recorded for the
    follow-up; ``done`` (freeing the turn's slot) is called when generation ends."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item: tuple[str, str | None]) -> None:
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
    yield format_sse_event(
        event="start", data_str=json.dumps({"reply_id": reply.id, "language": reply.language})
    )
    while True:
        kind, token = await queue.get()
        if kind == "token":
            if not token:
                continue
            yield format_sse_event(
                event="token", data_str=json.dumps({"text": token}, ensure_ascii=False)
            )
        elif kind == "done":
            yield format_sse_event(event="done", data_str=reply_out(reply).model_dump_json())
            return
        else:
            yield format_sse_event(
                event="error",
                data_str=json.dumps(
                    {
                        "error": "stream_failed",
                        "message": message("widget_error", reply.language),
                        "detail": "The answer could not be finished; ask again.",
                    },
                    ensure_ascii=False,
                ),
            )
            return
