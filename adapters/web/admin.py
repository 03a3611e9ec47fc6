"""The admin API (``/v1/admin/``, the admin key; see :mod:`adapters.web.gates`): the knowledge
base, as `linguadesk kb` manages it, and the handed-off widget conversations."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from adapters.kb_commands import gap_miner
from bot.conversations import conversation_key
from bot.desk import ConversationSummary
from bot.gaps import (
    APPROVED_SOURCE,
    GapMiner,
    approval_problems,
    as_markdown,
    since_time,
)
from bot.team_chat import AgentMessageRefused, NotHandedOff

from . import schemas
from .deps import CHANNEL, State, WebState
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
    """Entries per language, source and product, and translation coverage per language
    (as `linguadesk kb stats`)."""
    from knowledge import translations

    result = await run_in_threadpool(web.kb.stats)
    cover = await run_in_threadpool(translations.coverage, web.kb.store, web.settings.kb.languages)
    return {
        "entries": result.entries,
        "chunks": result.chunks,
        "by_language": result.by_language,
        "by_source": result.by_source,
        "by_product": result.by_product,
        "translations": {
            language: {**c.__dict__, "missing": c.missing} for language, c in cover.items()
        },
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


@router.get(
    "/translations",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/xliff+xml": {}}}},
)
def export_translations(
    web: State,
    language: Annotated[str, Query(min_length=2, max_length=12, pattern=r"^[A-Za-z-]+$")],
    format: Annotated[Literal["csv", "xliff"], Query()] = "csv",
    source: Annotated[str | None, Query()] = None,
) -> Response:
    """Every entry with its translation into ``language`` (empty when missing) and its status,
    for a translator (as `linguadesk kb translations export`)."""
    from knowledge import translations

    rows = translations.rows(web.kb.store, language, source)
    if format == "csv":
        body, media = translations.export_csv(rows), "text/csv; charset=utf-8"
    else:
        body, media = translations.export_xliff(rows, language), "application/xliff+xml"
    name = f"translations-{language.lower()}.{'csv' if format == 'csv' else 'xliff'}"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@uploads.post("/translations", response_model=schemas.TranslationImportOut)
async def import_translations(
    web: State,
    file: Annotated[UploadFile, File(description="A .csv or .xliff file from the export, edited.")],
) -> schemas.TranslationImportOut:
    """A translator's corrections: each row with a translation is stored as *reviewed*, which
    search and answers prefer to the machine's (as `linguadesk kb translations import`)."""
    from bot.entry_translation import review_problems
    from knowledge import translations

    data = await file.read()
    try:
        report = await run_in_threadpool(
            translations.import_file, web.kb.store, file.filename or "upload", data, review_problems
        )
    except translations.TranslationFileError as exc:
        raise ApiError(400, "bad_translation_file", str(exc)) from None
    return schemas.TranslationImportOut(**report.__dict__)


class TranslationJob:
    """One `kb translate` at a time per worker, in a thread (it takes minutes to hours)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status = schemas.TranslateJobOut(state="idle")

    def start(self, web: WebState, languages: list[str], source: str | None) -> bool:
        with self.lock:
            if self.status.state == "running":
                return False
            self.status = schemas.TranslateJobOut(state="running", languages=languages)
        threading.Thread(
            target=self._run, args=(web, languages, source), name="kb-translate", daemon=True
        ).start()
        return True

    def _run(self, web: WebState, languages: list[str], source: str | None) -> None:
        from runtime import build_localizer

        def progress(done: int, total: int) -> None:
            self.status.done, self.status.pending = done, total

        try:
            report = build_localizer(web.settings, web.kb.store).run(
                languages, source=source, progress=progress
            )
            self.status = schemas.TranslateJobOut(
                state="done",
                languages=languages,
                pending=report.pending,
                done=report.translated + len(report.failed),
                translated=report.translated,
                failed=len(report.failed),
            )
        except Exception as exc:  # the LLM or the store failed: say so, keep what was stored
            self.status = self.status.model_copy(
                update={"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
            )


_JOB_LOCK = threading.Lock()


def _job(request: Request) -> TranslationJob:
    state = request.app.state
    with _JOB_LOCK:
        if not hasattr(state, "translation_job"):
            state.translation_job = TranslationJob()
        return state.translation_job


@router.post("/translations/run", response_model=schemas.TranslateJobOut, status_code=202)
def run_translations(
    web: State, request: Request, body: schemas.TranslateIn
) -> schemas.TranslateJobOut:
    """Translate the entries that have no up-to-date translation, in the background (as
    `linguadesk kb translate`); poll GET /v1/admin/translations/run."""
    from linguadesk.settings import language_codes

    job = _job(request)
    try:
        languages = language_codes(body.languages, "languages") or list(web.settings.kb.languages)
    except ValueError as exc:
        raise ApiError(422, "bad_language", str(exc)) from None
    source = body.source
    if source is not None:
        source = web.kb.resolve_source(source)
        if source is None:
            raise ApiError(
                404,
                "source_not_found",
                f"No source matches {body.source!r}; GET /v1/admin/sources lists them.",
            )
    if not job.start(web, languages, source):
        raise ApiError(
            409,
            "translation_running",
            "A translation run is going on; poll GET /v1/admin/translations/run.",
        )
    return job.status


@router.get("/translations/run", response_model=schemas.TranslateJobOut)
def translation_status(request: Request) -> schemas.TranslateJobOut:
    return _job(request).status


def _conversation(conversation_id: str) -> str:
    """A widget conversation's id, or any conversation's whole key (``slack:T…:C…:ts``, as
    the handoff event names it)."""
    channel = conversation_id.split(":", 1)[0]
    if ":" in conversation_id and channel in ("slack", "discord", "web", "cli"):
        return conversation_id
    return conversation_key(CHANNEL, conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=schemas.AgentMessageOut,
    responses=NOT_FOUND,
)
def agent_message(
    web: State, conversation_id: str, body: schemas.AgentMessageIn
) -> schemas.AgentMessageOut:
    """A person of the support team answers a handed-off conversation, translated into the
    customer's language with ``translate``; the customer's channel shows it (the widget,
    their Slack thread or DM, their Discord thread or DM)."""
    key = _existing(web, conversation_id)
    try:
        sent = web.engine.team.from_agent(
            key, body.text, agent=body.agent, translate=body.translate
        )
    except NotHandedOff:
        raise ApiError(
            409,
            "not_handed_off",
            f"Conversation {conversation_id} is with the bot, not a person: nothing was sent. "
            "It is handed off when the customer asks for a person.",
        ) from None
    except AgentMessageRefused as exc:
        raise ApiError(429 if exc.reason == "rate_limited" else 422, exc.reason, str(exc)) from None
    return schemas.AgentMessageOut(
        id=sent.message.id,
        at=sent.message.at,
        handed_off=True,
        text=sent.relayed.text,
        language=sent.relayed.language,
        original=sent.relayed.original,
        source_language=sent.relayed.source_language,
        untranslated=sent.relayed.untranslated,
    )


@router.post("/conversations/{conversation_id}/release", response_model=None)
def release(web: State, conversation_id: str) -> dict:
    """A person is done with a handed-off conversation: the bot answers again, and the
    customer is told so in their language."""
    return {"released": web.engine.release(_conversation(conversation_id))}


@router.get("/conversations", response_model=None)
def conversations(
    web: State,
    channel: Annotated[str, Query(max_length=20, description="web, slack, discord, cli")] = "",
    language: Annotated[str, Query(max_length=12)] = "",
    status: Annotated[Literal["", "handed_off", "bot"], Query()] = "",
    q: Annotated[str, Query(max_length=200, description="Words in any message.")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict]:
    """Recent conversations, newest first; ``status=handed_off`` is the inbox: those a person
    has, the latest handoff first."""
    found = web.engine.desk.search(
        channel=channel, language=language, status=status, words=q, limit=limit
    )
    return [_summary_json(s) for s in found]


def _summary_json(summary: ConversationSummary) -> dict:
    return {
        "id": summary.key,
        **{k: v for k, v in summary.__dict__.items() if k != "key"},
        "revision": summary.revision,
    }


@router.get("/conversations/{conversation_id}", response_model=None, responses=NOT_FOUND)
def transcript(
    web: State,
    conversation_id: str,
    translate: Annotated[
        str, Query(max_length=12, description="Also translate each message into this language.")
    ] = "",
) -> dict:
    """One conversation: each message with its original and, with ``translate``, its
    translation; each rated reply with its feedback."""
    key = _existing(web, conversation_id)
    summary = web.engine.desk.summary(key)
    rated = {f.reply_id: f for f in web.engine.desk.feedback(key)}
    messages = []
    for m in web.engine.desk.history(key):
        shown = {
            "role": m.role,
            "text": m.text,
            "language": m.language,
            "at": m.at,
            "id": m.id,
            "author": m.author,
            "original": m.original,
            "untranslated": m.untranslated,
            "notice": m.notice,
            "feedback": None,
            "translation": None,
        }
        if m.id in rated:
            shown["feedback"] = {"rating": rated[m.id].rating, "comment": rated[m.id].comment}
        if translate and m.language and m.language != translate and not m.notice:
            shown["translation"] = _translation(web, m.text, m.language, translate)
        messages.append(shown)
    return {**_summary_json(summary), "transcript": messages}


_TRANSLATIONS: dict[tuple[str, str, str], str] = {}
_TRANSLATIONS_KEPT = 5000
_TRANSLATIONS_LOCK = threading.Lock()


def _translation(web: WebState, text: str, source: str, target: str) -> str | None:
    """A message's translation for the console; kept, since the inbox reloads a transcript
    every few seconds. None: it failed (the original is shown alone)."""
    key = (text, source, target)
    translator = web.engine.team.translator
    with _TRANSLATIONS_LOCK:
        if key in _TRANSLATIONS:
            return _TRANSLATIONS[key]
    if translator is None:
        return None
    relayed = translator.translate(text, source, target)
    if relayed.untranslated or not relayed.translated:
        return None  # asked again on the next reload
    with _TRANSLATIONS_LOCK:
        while len(_TRANSLATIONS) >= _TRANSLATIONS_KEPT:
            _TRANSLATIONS.pop(next(iter(_TRANSLATIONS)))
        _TRANSLATIONS[key] = relayed.text
    return relayed.text


@router.post("/conversations/{conversation_id}/take", response_model=None, responses=NOT_FOUND)
def take(web: State, conversation_id: str, body: schemas.TakeIn) -> dict:
    """A person says the conversation is theirs (shown in the inbox and the Slack thread)."""
    key = _existing(web, conversation_id)
    if not web.engine.team.take(key, body.agent or "console"):
        raise ApiError(
            409,
            "not_handed_off",
            f"Conversation {conversation_id} is with the bot: there is nothing to take.",
        )
    return {"taken": True, "agent": web.engine.desk.summary(key).agent}


@router.post("/search", response_model=None)
def test_question(web: State, body: schemas.SearchIn) -> list[dict]:
    """What retrieval finds for a question, as answers would use it, with the scores."""
    hits = web.engine.retriever.hits(body.query)[:8]
    return [
        {
            "title": h.document.metadata.get("title") or h.document.page_content[:80],
            "source": h.document.metadata.get("source", ""),
            "entry_id": h.document.metadata.get("entry_id", ""),
            "language": h.document.metadata.get("language", ""),
            "relevance": round(float(h.relevance), 4),
            "excerpt": h.document.page_content[:300],
        }
        for h in hits
    ]


@router.get("/entries", response_model=None)
def entries(
    web: State,
    language: Annotated[str, Query(max_length=12)] = "",
    source: Annotated[str, Query(max_length=2000)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict:
    """The entries (not chunks) of a source and/or language, with their titles."""
    rows = web.kb.list_entries(source or None, language or None)
    seen: dict[str, dict] = {}
    for chunk_id, meta in rows:
        entry = meta.get("entry_id") or chunk_id
        if entry not in seen:
            seen[entry] = {
                "entry_id": entry,
                "title": meta.get("title", ""),
                "source": meta.get("source", ""),
                "language": meta.get("language", ""),
                "chunks": 0,
            }
        seen[entry]["chunks"] += 1
    listed = list(seen.values())
    return {"total": len(listed), "entries": listed[:limit]}


def _overview(web: WebState, since: str) -> dict:
    from bot.turn_log import overview

    turns = web.engine.turns
    records = turns.read(since=_since(since)) if turns is not None else []
    return overview(records).as_json()


@router.get("/overview", response_model=None)
def overview_numbers(
    web: State, since: Annotated[str, Query(description="24h, 7d, 30d; empty: all kept.")] = "7d"
) -> dict:
    """Turns per language and channel, how they ended, 👍/👎 and reply times."""
    return _overview(web, since)


CHARTS = ("languages", "channels", "outcomes", "feedback")


@router.get(
    "/overview/{chart}.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def overview_chart(
    web: State,
    chart: Literal["languages", "channels", "outcomes", "feedback"],
    since: Annotated[str, Query()] = "7d",
    lang: Annotated[str, Query(max_length=12)] = "en",
) -> Response:
    """One of the overview's charts, drawn on the server, its labels in ``lang``."""
    from bot.messages import message
    from common.language import language_name

    from .charts import bar_chart

    data = _overview(web, since)
    if chart == "languages":
        rows = [(language_name(code, lang), n) for code, n in data["by_language"].items()]
        svg = bar_chart(message("console_turns_per_language", lang), rows)
    elif chart == "channels":
        svg = bar_chart(message("console_per_channel", lang), list(data["by_channel"].items()))
    elif chart == "outcomes":
        names = {
            "answered": "console_answered",
            "no_answer": "console_dont_know",
            "handoff": "console_handoffs",
        }
        rows = [(message(names[o], lang), r) for o, r in data["rates"].items()]
        svg = bar_chart(message("console_outcomes", lang), rows, percent=True)
    else:
        rows = [
            ("👍 " + message("feedback_helpful", lang), data["feedback"]["up"]),
            ("👎 " + message("feedback_not_helpful", lang), data["feedback"]["down"]),
        ]
        svg = bar_chart(message("console_feedback", lang), rows, colors=("#1f9d74", "#c2410c"))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def _existing(web: WebState, conversation_id: str) -> str:
    key = _conversation(conversation_id)
    if not web.engine.desk.exists(key):
        raise ApiError(
            404,
            "conversation_not_found",
            f"No conversation {conversation_id} (it may have expired); the handoff event "
            "names it, and GET /v1/admin/conversations lists them.",
        )
    return key


def _miner(web: WebState) -> GapMiner:
    return gap_miner(web.engine, web.kb, web.settings)


def _since(period: str) -> float:
    try:
        return since_time(period)
    except ValueError as exc:
        raise ApiError(422, "bad_period", f"since: {exc}.") from None


@router.get("/gaps", response_model=None)
def gaps(
    web: State,
    since: Annotated[str, Query(description="30m, 24h, 7d, 2w; empty: all kept.")] = "",
    language: Annotated[str, Query(description="Only questions in this language.")] = "",
    admin_language: Annotated[str, Query(description="Translate the questions into it.")] = "en",
    translate: Annotated[bool, Query(description="Translate the questions (the LLM).")] = True,
) -> list[dict]:
    """What customers asked that the FAQ did not answer, grouped by meaning across languages:
    size, languages, channels, why, representative questions, the closest entry."""
    found = _miner(web).clusters(
        since=_since(since), language=language, admin_language=admin_language, translate=translate
    )
    return [c.as_json() for c in found]


@router.post("/gaps/{cluster_id}/draft", response_model=None, responses=NOT_FOUND)
def draft_gap(
    web: State,
    cluster_id: str,
    since: Annotated[str, Query()] = "",
    language: Annotated[str, Query()] = "",
    admin_language: Annotated[str, Query()] = "en",
) -> dict:
    """An FAQ entry drafted for one gap, its facts left as [placeholders] to check."""
    try:
        made = _miner(web).draft(
            cluster_id, since=_since(since), language=language, admin_language=admin_language
        )
    except LookupError:
        raise ApiError(
            404,
            "gap_not_found",
            f"No gap {cluster_id} in this period; GET /v1/admin/gaps for the current ids.",
        ) from None
    return made.as_json()


@router.post("/gaps/approve", response_model=schemas.IngestOut)
def approve_gap(web: State, body: schemas.GapApprovalIn) -> schemas.IngestOut:
    """The edited draft becomes an entry of source gaps:approved, through the usual sync."""
    problems = approval_problems(body.question, body.answer)
    if problems:
        raise ApiError(422, "draft_not_ready", "Not approved: " + "; ".join(problems) + ".")
    report = web.kb.add_entry(
        APPROVED_SOURCE, as_markdown(body.question, body.variants, body.answer)
    )
    return ingest_out(report)


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
