"""What Slack and Discord do alike with a customer's message and with the buttons under a
reply; each adapter supplies only its platform's calls (a :class:`Surface`) and says a
:class:`Notice` its own way. The engine counts the metrics; nothing here touches the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from adapters.streaming import EditBudget, stream_by_editing
from bot.conversations import Message
from bot.engine import Engine, Reply, Turn
from bot.messages import message
from bot.reply import Status


def team_signature(sent: Message) -> str:
    """Who wrote a team message, as the customer reads it: "Anna, support team", or the
    team's name when the agent gave none."""
    if sent.author:
        return message("agent_says", sent.language).format(name=sent.author)
    return message("widget_agent", sent.language)


class Surface(Protocol):
    """Where one turn's answer appears: a message posted first, then edited."""

    def placeholder(self, text: str) -> None:
        """Post the message that is edited into the answer."""

    def preview(self, text: str) -> None:
        """Show the answer so far (may raise: the previews stop, the answer does not)."""

    def finish(self, reply: Reply, text: str) -> None:
        """Show the whole answer, with the platform's citations and buttons."""


@dataclass(frozen=True)
class Notice:
    """What a button says back: in the conversation, or only to the one who clicked."""

    text: str
    public: bool = False


class ChatTurns:
    def __init__(
        self, engine: Engine, channel: str, *, interval_s: float, budget: EditBudget | None = None
    ):
        """``interval_s``: at least this long between previews; ``budget``: the edits the
        platform allows, shared by every answer streaming at once."""
        self.engine, self.channel = engine, channel
        self.interval_s, self.budget = interval_s, budget

    def answer(
        self, key: str, user: str, text: str, surface: Surface, *, locale: str | None = None
    ) -> Reply:
        """Answer one message in conversation ``key``, streaming into ``surface``; blocks until
        the answer is complete. While a person has the conversation nothing is shown."""
        turn = Turn(text, conversation_id=key, user=user, channel=self.channel, locale=locale)
        reply = self.engine.answer(turn)
        if reply.status == Status.HANDED_OFF:
            reply.final()  # consumed all the same: the message is kept for the person
            return reply
        surface.placeholder(message("widget_thinking", reply.language))
        answer = stream_by_editing(
            reply, surface.preview, budget=self.budget, interval_s=self.interval_s
        )
        surface.finish(reply, answer)
        return reply

    def rate(self, key: str, reply_id: str, rating: str) -> Notice:
        """👍 ("up") or 👎 ("down") on one reply of conversation ``key``."""
        self.engine.desk.rate(key, reply_id, rating, channel=self.channel)
        return Notice(message("feedback_thanks", self.engine.desk.language(key)))

    def hand_off(self, key: str, user: str) -> Notice:
        """The "talk to a person" button: the team is told, the conversation hears so."""
        reply = self.engine.start_handoff(
            Turn("", conversation_id=key, user=user, channel=self.channel), reason="button"
        )
        text = reply.final()
        if text:
            return Notice(text, public=True)
        # Already with a person: only the one who clicked needs to hear it again.
        return Notice(message("handoff_started", self.engine.desk.language(key)))
