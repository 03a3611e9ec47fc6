"""Tells the team about a handoff in a Slack channel: one of the handoff service's notifiers,
wired in by the composition root when a handoff channel and a bot token are configured.

The handoff message opens a thread with *Take it* / *Give back to the bot* buttons; the
customer's later messages are posted in it, translated for the team (``relay``), and the
agents' replies in it go to the customer (adapters/slack/app.py)."""

from __future__ import annotations

from typing import Any

from bot.handoff import HandoffDeliveryError, HandoffEvent, clipped
from bot.messages import message
from bot.team_chat import CustomerMessageEvent
from common.language import language_name
from linguadesk.settings import Settings

from .blocks import escape


def _verbatim(text: str) -> dict:
    """A mrkdwn text object Slack shows as written: without ``verbatim`` it turns a customer's
    "@channel" into a mention and bare addresses into links."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


TAKE_ACTION = "linguadesk_handoff_take"
RELEASE_ACTION = "linguadesk_handoff_release"


def thread_ref(channel: str, ts: str) -> str:
    """How a handoff thread is named in the conversation's state (``C0123/1700000000.000100``)."""
    return f"{channel}/{ts}"


def quoted(label: str, text: str) -> list[dict[str, Any]]:
    """A bold label and the text as a rich-text quote, which Slack shows literally."""
    return [
        {
            "type": "rich_text_section",
            "elements": [{"type": "text", "text": label, "style": {"bold": True}}],
        },
        {"type": "rich_text_quote", "elements": [{"type": "text", "text": clipped(text) or "—"}]},
    ]


class SlackNotifier:
    """Posts the event to a Slack channel with the Web API (``chat.postMessage``)."""

    name = "slack"
    threaded = True

    def __init__(
        self,
        token: str,
        channel: str,
        *,
        base_url: str = "https://slack.com/api/",
        team_language: str = "en",
    ):
        from slack_sdk import WebClient

        self.client = WebClient(token=token, base_url=base_url, timeout=10)
        self.channel = channel
        self.team_language = team_language

    def relay(self, event: CustomerMessageEvent, thread: str | None) -> None:
        """A customer's message, while a person has the conversation, in its handoff thread:
        in the team's language with the original below it."""
        team = self.team_language
        who = message("team_customer", team).format(language=language_name(event.language, team))
        elements = quoted(who, event.text_team)
        if event.untranslated:
            elements += quoted(message("team_untranslated", team), "")[:1]
        elif event.text_team != event.text:
            elements += quoted(message("team_original", team), event.text)
        channel, _, ts = (thread or "").partition("/")
        header = "" if thread else f"`{escape(event.conversation)}` "
        self._post(
            channel or self.channel,
            ts or None,
            header + event.text_team,
            [{"type": "rich_text", "elements": elements}],
        )

    def _post(self, channel: str, thread: str | None, text: str, blocks: list) -> dict:
        from slack_sdk.errors import SlackApiError

        try:
            return self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread,
                text=escape(text),
                blocks=blocks,
                parse="none",
                link_names=False,
                unfurl_links=False,
                unfurl_media=False,
            ).data  # type: ignore[return-value]
        except SlackApiError as exc:
            raise HandoffDeliveryError(f"Slack: {exc.response.get('error', 'error')}") from exc
        except Exception as exc:  # connection problems surface as URLError/OSError
            raise HandoffDeliveryError(f"Slack: {type(exc).__name__}") from exc

    def send(self, event: HandoffEvent) -> str:
        team = self.team_language
        header = ":raising_hand: " + message("team_handoff", team).format(
            conversation=f"`{escape(event.conversation)}`",
            language=language_name(event.language, team),
        )
        # The customer's words (and the summary made of them) go in rich text, which Slack
        # shows literally: no mrkdwn, so a message cannot fake a bold "Bot:" line either.
        said = [(message("team_summary", team), event.summary)] + [
            (
                message("team_said_customer" if t["role"] == "human" else "team_said_bot", team),
                t["text_en"] or t["text"],
            )
            for t in event.transcript
        ]
        elements: list[dict[str, Any]] = []
        for label, text in said:
            elements += quoted(label, text)
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": _verbatim(header)},
            {"type": "rich_text", "elements": elements},
            handoff_buttons(event.conversation, team),
        ]
        posted = self._post(self.channel, None, header, blocks)
        # The channel's id, whatever name it was configured by: thread replies carry the id.
        return thread_ref(str(posted.get("channel") or self.channel), str(posted["ts"]))


def handoff_buttons(conversation: str, team_language: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "linguadesk_handoff",
        "elements": [
            {
                "type": "button",
                "action_id": TAKE_ACTION,
                "text": {"type": "plain_text", "text": message("team_take", team_language)},
                "style": "primary",
                "value": conversation,
            },
            {
                "type": "button",
                "action_id": RELEASE_ACTION,
                "text": {"type": "plain_text", "text": message("team_give_back", team_language)},
                "value": conversation,
            },
        ],
    }


def slack_handoff_notifiers(settings: Settings) -> list[SlackNotifier]:
    """The handoff channel's notifier, when a channel and a bot token are configured."""
    if not (settings.handoff.slack_channel and settings.slack.bot_token):
        return []
    return [
        SlackNotifier(
            settings.slack.bot_token.get_secret_value(),
            settings.handoff.slack_channel,
            base_url=settings.slack.api_url,
            team_language=settings.handoff.team_language,
        )
    ]
