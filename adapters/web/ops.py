"""Operations: health for load balancers and the widget's script (``router``), and the pages
web_public_ops governs, metrics and the API docs (``pages``, left out when it is "off")."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from bot.metrics import ERRORS

from .deps import State
from .headers import docs_page
from .widget import widget_script

router = APIRouter()
pages = APIRouter()


@router.get("/healthz", tags=["operations"], response_model=None)
async def healthz(web: State) -> dict | JSONResponse:
    try:
        entries = await run_in_threadpool(web.kb.store.count)
    except Exception as exc:
        ERRORS.labels("store_unavailable").inc()
        return JSONResponse(
            {
                "status": "unavailable",
                "detail": f"The FAQ store does not answer ({type(exc).__name__}).",
            },
            status_code=503,
        )
    return {"status": "ok", "entries": entries}


@router.get("/widget.js", tags=["widget"], include_in_schema=False)
async def widget() -> Response:
    return Response(
        widget_script(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@pages.get("/metrics", tags=["operations"])
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@pages.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    return docs_page(request.app.openapi_url, f"{request.app.title} API")
