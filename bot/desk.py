"""What adapters may do with a conversation besides taking a turn: start one, read it, release
it, rate a reply (a person's messages go through ``Engine.team``). Adapters go through this,
never the store."""

from __future__ import annotations

from dataclasses import dataclass

from common.language import base_language

from .conversations import ConversationState, ConversationStore, Feedback, Message, Role
from .gaps import GapLog, GapTurn
from .metrics import FEEDBACK
from .team_chat import release_to_bot


@dataclass(frozen=True)
class ConversationView:
    key: str
    language: str  # the language the bot replies in (a requested one wins), or ""
    handed_off: bool


class ConversationDesk:
    def __init__(
        self, store: ConversationStore, default_language: str = "en", gaps: GapLog | None = None
    ) -> None:
        self._store = store
        self.default_language = default_language
        self._gaps = gaps

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
