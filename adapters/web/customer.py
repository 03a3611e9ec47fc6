"""The customer API (``/v1/conversations``), the one the widget uses. It only translates HTTP to
:class:`bot.reply.Turn` and a :class:`bot.reply.Reply` back; every decision about the answer
is the core's."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from bot.conversations import conversation_key
from bot.messages import catalog_language, message
from bot.reply import Turn

from . import schemas
from .deps import CHANNEL, State, WebState, client_ip, from_allowed_page
from .errors import request_language
from .protection import ApiError
from .replies import events, release_after, reply_out

ERRORS: dict[int | str, dict[str, Any]] = {
    429: {"model": schemas.ErrorOut},
    401: {"model": schemas.ErrorOut},
    404: {"model": schemas.ErrorOut},
    413: {"model": schemas.ErrorOut},
}
STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/event-stream": {
                "description": "events 'start' {reply_id, language}, 'token' {text} (repeated), 'done' "
                "(the reply, as in JSON)"
            }
        }
    }
}

router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses=ERRORS,
    dependencies=[Depends(from_allowed_page)],
)


def open_conversation(
    web: WebState, request: Request, conversation_id: str, locale: str | None = None
) -> str:
    """Checks the token and the per-address limit; returns the conversation key."""
    language = catalog_language(locale or "") if locale else request_language(request)
    web.limits.hit("ip", client_ip(request), language)  # first: wrong tokens count too
    if not web.tokens.check(conversation_id, request.headers.get("authorization")):
        raise ApiError(
            401,
            "bad_token",
            "Missing or wrong conversation token. Send the "
            "token from POST /v1/conversations as 'Authorization: Bearer "
            "<token>', or start a new conversation.",
            language=language,
        )
    key = conversation_key(CHANNEL, conversation_id)
    if not web.engine.desk.exists(key):
        raise ApiError(
            404,
            "conversation_expired",
            "This conversation has expired or was "
            "never started; start a new one with POST /v1/conversations.",
            message_key="conversation_restarted",
            language=language,
        )
    return key


def language_of(web: WebState, key: str, locale: str | None) -> str:
    """The conversation's language; before its first reply the locale's catalog language."""
    engine = web.engine
    return engine.desk.language(key, catalog_language(locale or engine.default_language))


@router.post("", status_code=201, response_model=schemas.ConversationCreated)
def start_conversation(
    request: Request, web: State, body: schemas.NewConversation | None = None
) -> schemas.ConversationCreated:
    """Start a conversation; keep the id and token (the widget keeps them in local
    storage) to continue it later."""
    locale = body.locale if body else None
    language = catalog_language(locale or request_language(request))
    web.limits.hit("new_conversation", client_ip(request), language)
    web.limits.hit("ip", client_ip(request), language)
    conversation_id, token = web.tokens.new()
    web.engine.desk.start(conversation_key(CHANNEL, conversation_id))
    return schemas.ConversationCreated(
        id=conversation_id, token=token, language=language, greeting=message("greeting", language)
    )


@router.get("/{conversation_id}", response_model=schemas.ConversationOut)
def show_conversation(
    request: Request,
    web: State,
    conversation_id: str,
    after: Annotated[
        float, Query(description="Only messages newer than this time (Unix seconds).")
    ] = 0.0,
) -> schemas.ConversationOut:
    """The conversation's messages as the server keeps them. While a person has the
    conversation the widget polls this for their replies (role ``agent``)."""
    key = open_conversation(web, request, conversation_id)
    view = web.engine.desk.view(key)
    return schemas.ConversationOut(
        id=conversation_id,
        language=view.language,
        handed_off=view.handed_off,
        messages=[
            schemas.MessageOut(
                role=m.role,
                text=m.text,
                language=m.language,
                at=m.at,
                id=m.id,
                author=m.author,
                untranslated=m.untranslated,
                notice=m.notice,
            )
            for m in web.engine.desk.history(key, after)
        ],
    )


@router.post("/{conversation_id}/messages", response_model=schemas.ReplyOut, responses=STREAMED)
async def send_message(
    request: Request, web: State, conversation_id: str, body: schemas.MessageIn
) -> schemas.ReplyOut | StreamingResponse:
    """Ask. The answer comes as JSON, or streamed as server-sent events when the request
    says ``Accept: text/event-stream``."""
    settings, slots = web.settings, web.slots
    key = await run_in_threadpool(open_conversation, web, request, conversation_id, body.locale)
    language = await run_in_threadpool(language_of, web, key, body.locale)
    if len(body.text) > settings.web.max_message_chars:
        raise ApiError(
            413,
            "message_too_long",
            f"The message has {len(body.text)} "
            f"characters; the limit is {settings.web.max_message_chars}.",
            message_key="message_too_long",
            language=language,
        )
    await run_in_threadpool(web.limits.hit, "session", conversation_id, language)
    await run_in_threadpool(web.limits.hit, "worker_turns", "all", language)
    await slots.acquire(language)
    turn = Turn(
        text=body.text,
        conversation_id=key,
        user=f"web:{conversation_id}",
        channel=CHANNEL,
        locale=body.locale,
        address=client_ip(request),
    )
    try:
        reply = await run_in_threadpool(web.engine.answer, turn)
    except BaseException:  # failed or cancelled: the slot is free again
        slots.release()
        raise
    # The slot is held while the answer generates, and while the team's summary does when
    # the words asked for a person.
    free = functools.partial(release_after, reply, slots.release)
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            events(reply, free),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    try:
        await run_in_threadpool(reply.final)
    finally:
        free()
    return reply_out(reply)


@router.post("/{conversation_id}/feedback", response_model=schemas.FeedbackOut)
async def feedback(
    request: Request, web: State, conversation_id: str, body: schemas.FeedbackIn
) -> schemas.FeedbackOut:
    """👍 / 👎 on one reply (its reply_id), with an optional comment."""
    key = await run_in_threadpool(open_conversation, web, request, conversation_id)
    language = await run_in_threadpool(language_of, web, key, None)
    found = await run_in_threadpool(
        web.engine.desk.rate, key, body.reply_id, body.rating, body.comment, channel=CHANNEL
    )
    if not found:
        raise ApiError(
            404,
            "reply_not_found",
            f"No reply {body.reply_id} in this "
            "conversation; use a reply_id from one of its replies.",
            language=language,
        )
    return schemas.FeedbackOut(ok=True, message=message("feedback_thanks", language))


@router.post("/{conversation_id}/handoff", response_model=schemas.ReplyOut)
async def handoff(
    request: Request, web: State, conversation_id: str, body: schemas.HandoffIn | None = None
) -> schemas.ReplyOut:
    """The customer asked for a person ("talk to a human")."""
    body = body or schemas.HandoffIn()
    slots = web.slots
    key = await run_in_threadpool(open_conversation, web, request, conversation_id, body.locale)
    language = await run_in_threadpool(language_of, web, key, body.locale)
    await run_in_threadpool(web.limits.hit, "session", conversation_id, language)
    await run_in_threadpool(web.limits.hit, "worker_turns", "all", language)
    turn = Turn(
        text=body.text[: web.settings.web.max_message_chars],
        conversation_id=key,
        user=f"web:{conversation_id}",
        channel=CHANNEL,
        locale=body.locale,
        address=client_ip(request),
    )
    # The summary and translation for the team are LLM calls: they hold a turn slot until
    # they are written, like an answer does (not while a slow receiver is waited for).
    await slots.acquire(language)
    try:
        reply = await run_in_threadpool(
            web.engine.start_handoff, turn, reason="customer_button", language=language
        )
        await run_in_threadpool(reply.final)
    except BaseException:
        slots.release()
        raise
    release_after(reply, slots.release)
    return reply_out(reply)
