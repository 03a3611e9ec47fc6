"""What adapters may do with a conversation besides taking a turn: start one, read it, release
it, rate a reply (a person's messages go through ``Engine.team``). Adapters go through this,
never the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.language import base_language

from .conversations import ConversationState, ConversationStore, Feedback, Message, Role
from .gaps import GapLog, GapTurn
from .metrics import FEEDBACK
from .team_chat import release_to_bot
from .turn_log import TurnLog, TurnRecord

SCANNED = 500  # the recent conversations a search looks through


@dataclass(frozen=True)
class ConversationView:
    key: str
    language: str  # the language the bot replies in (a requested one wins), or ""
    handed_off: bool


@dataclass(frozen=True)
class ConversationSummary:
    key: str
    channel: str
    language: str
    handed_off: bool
    handed_off_at: float
    agent: str
    updated: float  # the last message's time
    messages: int
    last_question: str  # the customer's last message
    feedback: dict[str, int] = field(default_factory=dict)  # up/down counts

    @property
    def revision(self) -> str:
        """Changes whenever what a transcript view shows changes (a page redraws on it)."""
        return f"{self.messages}:{self.updated}:{self.agent}:{self.handed_off}"


class ConversationDesk:
    def __init__(
        self,
        store: ConversationStore,
        default_language: str = "en",
        gaps: GapLog | None = None,
        turns: TurnLog | None = None,
    ) -> None:
        self._store = store
        self.default_language = default_language
        self._gaps = gaps
        self._turns = turns

    def exists(self, key: str) -> bool:
        return self._store.exists(key)

    def start(self, key: str) -> None:
        self._store.save_state(key, ConversationState())

    def view(self, key: str) -> ConversationView:
        state = self._store.state(key)
        return ConversationView(key, state.locked_language or state.language, state.handed_off)

    def language(self, key: str, fallback: str | None = None) -> str:
        """The conversation's language: the one asked for, else the bot's last reply's, else
        ``fallback`` (a locale such as "pt-BR" or a platform's), else the default."""
        state = self._store.state(key)
        return (
            state.locked_language
            or state.language
            or base_language(fallback or "")
            or self.default_language
        )

    def history(self, key: str, after: float = 0.0) -> list[Message]:
        return [m for m in self._store.messages(key) if m.at > after]

    def release(self, key: str) -> bool:
        """A person is done: the bot answers this conversation again, and the customer is
        told so."""
        return release_to_bot(self._store, key, self.default_language)

    def handed_off(self) -> list[str]:
        return self._store.handed_off()

    def summary(self, key: str) -> ConversationSummary:
        return self._summary(key, self._store.messages(key))

    def _summary(self, key: str, messages: list[Message]) -> ConversationSummary:
        state = self._store.state(key)
        asked = [m for m in messages if m.role == Role.HUMAN]
        ratings = [f.rating for f in self._store.feedback(key)]
        return ConversationSummary(
            key=key,
            channel=key.split(":", 1)[0],
            language=state.locked_language
            or state.language
            or (asked[-1].language if asked else ""),
            handed_off=state.handed_off,
            handed_off_at=state.handed_off_at,
            agent=state.agent,
            updated=messages[-1].at if messages else 0.0,
            messages=len(messages),
            last_question=asked[-1].text if asked else "",
            feedback={r: ratings.count(r) for r in ("up", "down") if r in ratings},
        )

    def search(
        self,
        *,
        channel: str = "",
        language: str = "",
        status: str = "",
        words: str = "",
        limit: int = 50,
    ) -> list[ConversationSummary]:
        """Recent conversations, newest first; ``status``: "handed_off" (a person has it, the
        latest handoff first, over all of them), "bot", or any; ``words``: in any message,
        original or translation, whatever the case."""
        inbox = status == "handed_off"
        keys = self._store.handed_off() if inbox else self._store.recent(SCANNED)
        wanted = words.casefold().split()
        found = []
        for key in keys:
            if channel and not key.startswith(channel + ":"):
                continue
            if not self._store.exists(key):
                continue
            messages = self._store.messages(key)
            if wanted:
                text = " ".join(f"{m.text} {m.original}" for m in messages).casefold()
                if not all(w in text for w in wanted):
                    continue
            summary = self._summary(key, messages)
            if language and summary.language != base_language(language):
                continue
            if status == "bot" and summary.handed_off:
                continue
            if inbox and not summary.handed_off:
                continue
            found.append(summary)
            if not inbox and len(found) >= limit:
                break
        if inbox:
            found.sort(key=lambda s: s.handed_off_at, reverse=True)
        return found[:limit]

    def feedback(self, key: str) -> list[Feedback]:
        return self._store.feedback(key)

    def rate(
        self, key: str, reply_id: str, rating: str, comment: str = "", *, channel: str = ""
    ) -> bool:
        """👍/👎 on one reply, kept with the conversation. False: no such reply in it."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        rated = next(
            (m for m in self._store.messages(key) if m.role == Role.AI and m.id == reply_id), None
        )
        if rated is None:
            return False
        self._store.add_feedback(
            key, Feedback(reply_id, rating, comment.strip()[:2000], rated.text)
        )
        if rating == "down" and self._gaps is not None:
            self._note_thumbs_down(key, rated, channel)
        FEEDBACK.labels(channel or key.split(":", 1)[0], rating).inc()
        if self._turns is not None:
            self._turns.record(
                TurnRecord(
                    "feedback", channel or key.split(":", 1)[0], rated.language, rating=rating
                )
            )
        return True

    def _note_thumbs_down(self, key: str, rated: Message, channel: str) -> None:
        """The question of a 👎 reply is a gap too."""
        messages = self._store.messages(key)
        asked = [m for m in messages if m.role == Role.HUMAN and m.at <= rated.at]
        if asked and self._gaps is not None:
            question = asked[-1]
            self._gaps.record(
                GapTurn(
                    question.text,
                    "thumbs_down",
                    rated.language or question.language,
                    key,
                    channel or key.split(":", 1)[0],
                )
            )
