"""The admin API (``/v1/admin/``, the admin key; see :mod:`adapters.web.gates`): the knowledge
base, as `linguadesk kb` manages it, and the handed-off widget conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from bot.conversations import conversation_key
from bot.desk import ConversationNotFound

from . import schemas
from .deps import CHANNEL, State
from .protection import ApiError

if TYPE_CHECKING:  # importing it loads the vector store
    from knowledge.admin import IngestReport

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.ErrorOut},
    403: {"model": schemas.ErrorOut},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": schemas.ErrorOut}}

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=ERRORS)
# Included with the upload size limit of the settings (web_max_upload_bytes).
uploads = APIRouter(prefix="/v1/admin", tags=["admin"], responses=ERRORS)


@router.get("/stats", response_model=None)
async def stats(web: State) -> dict:
    """Entries per language, source and product (as `linguadesk kb stats`)."""
    result = await run_in_threadpool(web.kb.stats)
    return {
        "entries": result.entries,
        "chunks": result.chunks,
        "by_language": result.by_language,
        "by_source": result.by_source,
        "by_product": result.by_product,
    }


@router.get("/sources", response_model=list[schemas.SourceOut])
async def list_sources(web: State) -> list[schemas.SourceOut]:
    sources = await run_in_threadpool(web.kb.sources)
    return [schemas.SourceOut(source=s, chunks=n) for s, n in sorted(sources.items())]


@uploads.post("/sources", response_model=schemas.IngestOut)
async def ingest_file(
    web: State,
    file: Annotated[
        UploadFile, File(description="A Markdown, CSV/TSV, JSON/JSONL, HTML or PDF file.")
    ],
    product: Annotated[str, Form()] = "",
    dry_run: Annotated[bool, Form()] = False,
) -> schemas.IngestOut:
    """Upload a FAQ file (as `linguadesk kb ingest`; stored as source ``upload:<name>``,
    so uploading the same name again syncs it)."""
    data = await file.read()
    report = await run_in_threadpool(
        lambda: web.kb.ingest_upload(file.filename or "", data, product=product, dry_run=dry_run)
    )
    return ingest_out(report)


@router.post("/sources/url", response_model=schemas.IngestOut)
async def ingest_url(web: State, body: schemas.UrlIngestIn) -> schemas.IngestOut:
    """Fetch a FAQ page or file from a URL and sync it (source name: the URL)."""
    settings = web.settings
    report = await run_in_threadpool(
        lambda: web.kb.ingest_url(
            body.url,
            product=body.product,
            dry_run=body.dry_run,
            max_bytes=settings.web.max_upload_bytes,
            allow_private=settings.web.ingest_private_urls,
        )
    )
    return ingest_out(report)


@router.delete("/sources", response_model=None, responses=NOT_FOUND)
async def delete_source(
    web: State,
    source: Annotated[str, Query(description="A stored source name (see GET /v1/admin/sources).")],
) -> dict:
    resolved = await run_in_threadpool(web.kb.resolve_source, source)
    if resolved is None:
        raise ApiError(
            404,
            "source_not_found",
            f"No source matches {source!r}; GET /v1/admin/sources lists them.",
        )
    deleted = await run_in_threadpool(web.kb.delete_source, resolved)
    return {"source": resolved, "deleted_chunks": deleted}


@router.post("/conversations/{conversation_id}/messages", response_model=None, responses=NOT_FOUND)
def agent_message(web: State, conversation_id: str, body: schemas.AgentMessageIn) -> dict:
    """A person of the support team answers a handed-off widget conversation; the customer
    sees it in the widget."""
    key = conversation_key(CHANNEL, conversation_id)
    try:
        sent, view = web.engine.desk.post_agent_message(key, body.text)
    except ConversationNotFound:
        raise ApiError(
            404,
            "conversation_not_found",
            f"No conversation {conversation_id} "
            "(it may have expired); the handoff event names the conversation.",
        ) from None
    return {"id": sent.id, "at": sent.at, "handed_off": view.handed_off}


@router.post("/conversations/{conversation_id}/release", response_model=None)
def release(web: State, conversation_id: str) -> dict:
    """A person is done with a handed-off widget conversation: the bot answers again."""
    return {"released": web.engine.desk.release(conversation_key(CHANNEL, conversation_id))}


def ingest_out(report: IngestReport) -> schemas.IngestOut:
    return schemas.IngestOut(
        ok=report.ok,
        warnings=report.warnings,
        errors=[str(e) for e in report.errors],
        sources=[
            {
                "source": p.source,
                "added": len(p.added),
                "updated": len(p.updated),
                "deleted": len(p.deleted),
                "unchanged": p.unchanged,
            }
            for p in report.plans
        ],
    )
