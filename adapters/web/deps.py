"""What the routers share: the objects :func:`adapters.web.app.create_app` keeps on
``app.state.web``, and the dependencies that read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from bot.engine import Engine
from linguadesk.settings import Settings

from .protection import (
    ApiError,
    ConversationTokens,
    RateLimits,
    TurnSlots,
    client_address,
    origin_allowed,
)
from .sessions import ConsoleSessions

if TYPE_CHECKING:  # importing it loads the vector store
    from knowledge.admin import KnowledgeBase

CHANNEL = "web"


@dataclass(frozen=True)
class WebState:
    settings: Settings
    engine: Engine
    kb: KnowledgeBase
    tokens: ConversationTokens
    limits: RateLimits
    slots: TurnSlots
    allowed_origins: list[str]
    admin_key: str | None
    sessions: ConsoleSessions


async def web_state(request: Request) -> WebState:
    return request.app.state.web  # async: a sync dependency would take a worker thread


State = Annotated[WebState, Depends(web_state)]


def client_ip(request: Request) -> str:
    """The address rate limits count this request by."""
    return client_address(
        request.client.host if request.client else None,
        request.app.state.web.settings.web.ipv6_prefix,
    )


async def from_allowed_page(request: Request, web: State) -> None:
    if not origin_allowed(request, web.allowed_origins):
        raise ApiError(
            403,
            "origin_not_allowed",
            f"Pages on {request.headers['origin']} "
            "may not use this support API. Add the origin to "
            "LINGUADESK_WEB__ALLOWED_ORIGINS on the server.",
        )
