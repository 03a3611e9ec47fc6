"""Tells the team about a handoff in a Slack channel: one of the handoff service's notifiers,
wired in by the composition root when a handoff channel and a bot token are configured."""

from __future__ import annotations

from typing import Any

from bot.handoff import HandoffDeliveryError, HandoffEvent, clipped
from common.language import language_name
from linguadesk.settings import Settings

from .blocks import escape


def _verbatim(text: str) -> dict:
    """A mrkdwn text object Slack shows as written: without ``verbatim`` it turns a customer's
    "@channel" into a mention and bare addresses into links."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


class SlackNotifier:
    """Posts the event to a Slack channel with the Web API (``chat.postMessage``)."""

    def __init__(self, token: str, channel: str, *, base_url: str = "https://slack.com/api/"):
        from slack_sdk import WebClient

        self.client = WebClient(token=token, base_url=base_url, timeout=10)
        self.channel = channel

    def send(self, event: HandoffEvent) -> None:
        from slack_sdk.errors import SlackApiError

        header = (
            f":raising_hand: Handoff requested — conversation "
            f"`{escape(event.conversation)}`, customer writes "
            f"{language_name(event.language)}"
        )
        # The customer's words (and the summary made of them) go in rich text, which Slack
        # shows literally: no mrkdwn, so a message cannot fake a bold "Bot:" line either.
        said = [("Summary", event.summary)] + [
            ("Customer" if t["role"] == "human" else "Bot", t["text_en"] or t["text"])
            for t in event.transcript
        ]
        elements: list[dict[str, Any]] = []
        for label, text in said:
            elements.append(
                {
                    "type": "rich_text_section",
                    "elements": [{"type": "text", "text": f"{label}:", "style": {"bold": True}}],
                }
            )
            elements.append(
                {
                    "type": "rich_text_quote",
                    "elements": [{"type": "text", "text": clipped(text) or "—"}],
                }
            )
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": _verbatim(header)},
            {"type": "rich_text", "elements": elements},
        ]
        try:
            self.client.chat_postMessage(
                channel=self.channel,
                text=header,
                blocks=blocks,
                parse="none",
                link_names=False,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise HandoffDeliveryError(f"Slack: {exc.response.get('error', 'error')}") from exc
        except Exception as exc:  # connection problems surface as URLError/OSError
            raise HandoffDeliveryError(f"Slack: {type(exc).__name__}") from exc


def slack_handoff_notifiers(settings: Settings) -> list[SlackNotifier]:
    """The handoff channel's notifier, when a channel and a bot token are configured."""
    if not (settings.handoff.slack_channel and settings.slack.bot_token):
        return []
    return [
        SlackNotifier(
            settings.slack.bot_token.get_secret_value(),
            settings.handoff.slack_channel,
            base_url=settings.slack.api_url,
        )
    ]
