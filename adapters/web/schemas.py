"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from bot.reply import Status


class NewConversation(BaseModel):
    locale: str | None = Field(
        None,
        description="The customer's locale, e.g. 'pt-PT' (the "
        "browser's language); the greeting and fixed texts use it.",
        max_length=35,
    )


class ConversationCreated(BaseModel):
    id: str = Field(description="Names the conversation; not a secret.")
    token: str = Field(
        description="Send as 'Authorization: Bearer <token>' on every request "
        "about this conversation."
    )
    language: str
    greeting: str


class MessageIn(BaseModel):
    text: str = Field(description="What the customer wrote.")
    locale: str | None = Field(
        None, max_length=35, description="e.g. 'es-MX': prices and dates in the answer use it."
    )


class CitationOut(BaseModel):
    number: int = Field(description="The [n] the text uses.")
    title: str
    url: str
    source: str
    score: float = Field(description="Calibrated relevance, 0..1.")


class ReplyOut(BaseModel):
    reply_id: str = Field(description="Refer to this reply in feedback.")
    text: str
    language: str
    status: Status = Field(
        description="What kind of reply this is: handoff and handed_off "
        "mean a person of the support team takes over."
    )
    confidence: float
    grounded: bool
    citations: list[CitationOut]
    offer_handoff: bool = Field(description="Show a 'talk to a person' action.")


class FeedbackIn(BaseModel):
    reply_id: str = Field(max_length=64)
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=2000)


class FeedbackOut(BaseModel):
    ok: bool
    message: str


class HandoffIn(BaseModel):
    text: str = Field("", description="An optional note from the customer.")
    locale: str | None = Field(None, max_length=35)


class MessageOut(BaseModel):
    role: str = Field(
        description="human (the customer) | ai (the bot) | agent (a person of the support team)"
    )
    text: str
    language: str
    at: float
    id: str
    author: str = Field(default="", description="The agent's name (role ``agent``).")
    untranslated: bool = Field(
        default=False, description="An agent's message whose translation failed: the original."
    )
    notice: bool = Field(
        default=False,
        description="The bot's word outside a turn (the conversation is back with the bot).",
    )


class ConversationOut(BaseModel):
    id: str
    language: str
    handed_off: bool
    messages: list[MessageOut]


class ErrorOut(BaseModel):
    error: str = Field(description="A stable code: rate_limited, busy, message_too_long, …")
    message: str = Field(description="For the customer, in their language.")
    detail: str = Field(description="For developers, in English: what happened, what to do.")


class SourceOut(BaseModel):
    source: str
    chunks: int


class IngestOut(BaseModel):
    ok: bool
    sources: list[dict]
    errors: list[str]
    warnings: list[str]


class UrlIngestIn(BaseModel):
    url: str
    product: str = ""
    dry_run: bool = False


class TranslationImportOut(BaseModel):
    imported: int = Field(description="Rows stored as reviewed translations.")
    unchanged: int = Field(description="Rows as stored already: their status is kept.")
    stale: int = Field(description="Of those, made from an older version of their entry.")
    empty: int = Field(description="Rows without a translation, skipped.")
    errors: list[str] = Field(description="Rows refused, each named, with what to fix.")


class TranslateIn(BaseModel):
    languages: list[str] = Field(
        default_factory=list, description="Language codes; empty: the configured kb.languages."
    )
    source: str | None = Field(default=None, description="Only the entries of this source.")


class TranslateJobOut(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
    languages: list[str] = []
    pending: int = 0
    done: int = 0
    translated: int = 0
    failed: int = 0
    error: str | None = None


class AgentMessageIn(BaseModel):
    text: str = Field(
        min_length=1,
        max_length=4000,
        description="What the person writes to the customer; their channel shows it within "
        "seconds.",
    )
    translate: bool = Field(
        default=False,
        description="Machine-translate it into the customer's language first. When the "
        "translation fails the original is sent, marked untranslated.",
    )
    agent: str = Field(
        default="", max_length=80, description="The person's name, shown to the customer."
    )


class GapApprovalIn(BaseModel):
    question: str = Field(min_length=1, max_length=500)
    variants: list[str] = Field(default=[], max_length=20)
    answer: str = Field(min_length=1, max_length=8000)


class AgentMessageOut(BaseModel):
    id: str
    at: float
    handed_off: bool
    text: str = Field(description="What the customer got.")
    language: str = Field(description="The language of ``text``.")
    original: str = Field(description="What was written.")
    source_language: str
    untranslated: bool = Field(description="The translation failed: the original was sent.")


class TakeIn(BaseModel):
    agent: str = Field("", max_length=80, description="The person taking the conversation.")


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="A customer's question.")
