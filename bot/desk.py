"""What adapters may do with a conversation besides taking a turn: start one, read it, post a
person's message, release it, rate a reply. Adapters go through this, never the store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from common.language import base_language

from .conversations import ConversationState, ConversationStore, Feedback, Message, Role, release
from .metrics import FEEDBACK


class ConversationNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ConversationView:
    key: str
    language: str  # the language the bot replies in (a requested one wins), or ""
    handed_off: bool


class ConversationDesk:
    def __init__(self, store: ConversationStore, default_language: str = "en") -> None:
        self._store = store
        self.default_language = default_language

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

    def post_agent_message(self, key: str, text: str) -> tuple[Message, ConversationView]:
        """A person of the support team writes to the customer; their channel shows it."""
        if not self._store.exists(key):
            raise ConversationNotFound(key)
        view = self.view(key)
        sent = Message(Role.AGENT, text.strip(), view.language, id=uuid.uuid4().hex)
        self._store.append(key, sent)
        return sent, view

    def release(self, key: str) -> bool:
        """A person is done: the bot answers this conversation again."""
        return release(self._store, key)

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
        FEEDBACK.labels(channel or key.split(":", 1)[0], rating).inc()
        return True
