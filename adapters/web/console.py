"""The support console at ``/admin``: a static page whose script uses the admin API only,
signed in with a session cookie (:mod:`.sessions`); ``router`` signs in and out."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot.messages import SUPPORTED_LANGUAGES, message, message_keys
from common.language import language_name

from .deps import State, WebState
from .gates import guessing_limited
from .protection import ApiError, key_matches, require_admin_key
from .sessions import COOKIE, CSRF_HEADER, check_own_page, secure_cookie

STATIC = Path(__file__).parent / "static"
PLACEHOLDER = "/*LINGUADESK_STRINGS*/{}"
# Shared texts the console shows besides its console_* ones.
SHARED_KEYS = (
    "team_take",
    "team_give_back",
    "team_sent",
    "team_original",
    "team_untranslated",
    "kb_gaps_none",
    "feedback_helpful",
    "feedback_not_helpful",
    "widget_agent",
    "widget_assistant",
)

router = APIRouter(prefix="/v1/admin", tags=["console"])
pages = APIRouter(include_in_schema=False)


class SignIn(BaseModel):
    key: str = Field(min_length=1, max_length=4096)


def console_strings() -> dict[str, dict]:
    keys = [k for k in message_keys() if k.startswith("console_")] + list(SHARED_KEYS)
    return {
        lang: {
            "name": language_name(lang, lang),
            "texts": {k.removeprefix("console_"): message(k, lang) for k in keys},
        }
        for lang in SUPPORTED_LANGUAGES
    }


@cache
def console_script() -> bytes:
    source = (STATIC / "console.js").read_text(encoding="utf-8")
    if PLACEHOLDER not in source:
        raise RuntimeError(f"{STATIC / 'console.js'} lost its {PLACEHOLDER} marker")
    strings = json.dumps(console_strings(), ensure_ascii=False, separators=(",", ":"))
    return source.replace(PLACEHOLDER, strings).encode("utf-8")


@router.post("/session", response_model=None)
def sign_in(web: State, request: Request, body: SignIn) -> JSONResponse:
    """The console's sign-in: the admin key, once, for a session cookie and a CSRF token."""
    admin_key = require_admin_key(web.admin_key)
    check_own_page(request)

    def check(_: WebState) -> None:
        if not key_matches(body.key, admin_key):
            raise ApiError(
                401, "bad_api_key", "That is not the admin key (LINGUADESK_WEB__ADMIN_API_KEY)."
            )

    guessing_limited(request, check)
    session = web.sessions.new()
    response = JSONResponse({"csrf": web.sessions.csrf(session), "expires_in": web.sessions.ttl_s})
    response.set_cookie(
        COOKIE,
        session,
        max_age=int(web.sessions.ttl_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )
    return response


@router.get("/session", response_model=None)
def session(web: State, request: Request) -> dict:
    """The page, reloaded, asks for its CSRF token again (it keeps it in memory only)."""
    value = request.cookies.get(COOKIE, "")
    if not web.sessions.valid(value):  # the key was used instead: there is no session
        raise ApiError(401, "session_expired", "No console session: sign in at /admin.")
    return {"csrf": web.sessions.csrf(value), "header": CSRF_HEADER}


@router.delete("/session", response_model=None)
def sign_out(request: Request) -> JSONResponse:
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookie(request)
    )
    return response


@pages.get("/admin")
async def page() -> HTMLResponse:
    return HTMLResponse(
        (STATIC / "console.html").read_text(encoding="utf-8"),
        headers={"Cache-Control": "no-store"},
    )


@pages.get("/admin/console.js")
async def script() -> Response:
    return Response(
        console_script(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@pages.get("/admin/console.css")
async def style() -> Response:
    return Response(
        (STATIC / "console.css").read_bytes(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )
