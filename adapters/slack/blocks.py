"""A finished reply as Slack Block Kit: the answer, citations as links, 👍/👎 and
"talk to a person" buttons. Text from the model or the customer is escaped, so "<!channel>"
in it pings nobody."""

from __future__ import annotations

import json
import re

from adapters.streaming import split_text
from bot.messages import message
from bot.reply import ACTIONABLE, Reply

SECTION_LIMIT = 3000  # characters of text in one section block
MAX_SECTIONS = 40  # Slack allows 50 blocks; the rest hold citations and buttons
FEEDBACK_ACTION = re.compile(r"^linguadesk_feedback_(up|down)$")
HANDOFF_ACTION = "linguadesk_handoff"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.M)


_BARE_URL = re.compile(r"(?<![<|])\bhttps?://[^\s<>|]+[^\s<>|.,;:!?)]")


def link(url: str, label: str) -> str:
    """``<url|label>`` with both parts unable to close it or start another control sequence."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"


def to_mrkdwn(markdown: str) -> str:
    """The Markdown a model writes, as Slack mrkdwn: **bold** → *bold*, [t](url) → <url|t>,
    bare URLs as links (the blocks are ``verbatim``: Slack parses nothing by itself)."""
    links: list[str] = []

    def keep(m: re.Match) -> str:
        links.append(link(m.group(2), m.group(1)))
        return f"\x00{len(links) - 1}\x00"

    text = escape(_LINK.sub(keep, markdown))
    text = _BARE_URL.sub(lambda m: f"<{m.group(0).replace('|', '%7C')}>", text)
    text = _HEADING.sub(r"*\1*", text)
    text = _BOLD.sub(r"*\1*", text)
    return re.sub("\x00(\\d+)\x00", lambda m: links[int(m.group(1))], text)


def _mrkdwn(text: str) -> dict:
    # verbatim: no automatic parsing of "@channel"-like text or names; links are explicit.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def button_value(conversation: str, reply_id: str) -> str:
    return json.dumps({"c": conversation, "r": reply_id}, separators=(",", ":"))


def read_button_value(value: str) -> tuple[str, str]:
    data = json.loads(value)
    return data["c"], data["r"]


def answer_blocks(reply: Reply, text: str, conversation: str) -> list[dict]:
    sections = split_text(to_mrkdwn(text), SECTION_LIMIT)[:MAX_SECTIONS]
    blocks: list[dict] = [{"type": "section", "text": _mrkdwn(piece)} for piece in sections]
    if reply.citations:
        links = [
            link(c.url, f"[{c.number}] {c.title}")
            if c.url.startswith(("http://", "https://"))
            else f"[{c.number}] {escape(c.title)}"
            for c in reply.citations
        ]
        blocks.append(
            {
                "type": "context",
                "elements": [
                    _mrkdwn(f"*{escape(message('sources', reply.language))}:* " + " · ".join(links))
                ],
            }
        )
    if reply.status in ACTIONABLE:
        value = button_value(conversation, reply.id)
        buttons = [
            {
                "type": "button",
                "action_id": "linguadesk_feedback_up",
                "value": value,
                "text": {
                    "type": "plain_text",
                    "emoji": True,
                    "text": "👍 " + message("feedback_helpful", reply.language),
                },
            },
            {
                "type": "button",
                "action_id": "linguadesk_feedback_down",
                "value": value,
                "text": {
                    "type": "plain_text",
                    "emoji": True,
                    "text": "👎 " + message("feedback_not_helpful", reply.language),
                },
            },
            {
                "type": "button",
                "action_id": HANDOFF_ACTION,
                "value": value,
                "text": {
                    "type": "plain_text",
                    "emoji": True,
                    "text": message("talk_to_human", reply.language),
                },
            },
        ]
        if reply.offer_handoff:
            buttons[2]["style"] = "primary"
        blocks.append({"type": "actions", "block_id": "linguadesk_reply", "elements": buttons})
    return blocks
