"""A finished reply as Discord message parts: text pieces within the 2,000-character limit,
an embed with the citations, and buttons that keep working after a restart (their custom ids
carry what the callback needs; ``DynamicItem`` matches them on any message)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from adapters.streaming import split_text
from bot.messages import message
from bot.reply import ACTIONABLE, Reply

MESSAGE_LIMIT = 2000
EMBED_LIMIT = 4096


def message_pieces(text: str) -> list[str]:
    return split_text(text, MESSAGE_LIMIT) or ["…"]


def streaming_preview(text: str) -> str:
    """What the message shows while the answer is written (its end once it is too long)."""
    return text if len(text) <= MESSAGE_LIMIT else "…" + text[-(MESSAGE_LIMIT - 1) :]


def citations_embed(reply: Reply) -> discord.Embed | None:
    if not reply.citations:
        return None
    lines = []
    for c in reply.citations:
        title = discord.utils.escape_markdown(c.title)
        link = f"[{title}]({c.url})" if c.url.startswith(("http://", "https://")) else title
        lines.append(f"[{c.number}] {link}")
    return discord.Embed(
        title=message("sources", reply.language), description="\n".join(lines)[:EMBED_LIMIT]
    )


def custom_id(action: str, reply_id: str, scope: str) -> str:
    """``ld:up:<reply id>:<scope>``; the scope is the asker's id where the conversation is
    one person's in a shared channel, else empty. At most 100 characters."""
    return f"ld:{action}:{reply_id}:{scope}"


CUSTOM_ID = r"ld:(?P<action>up|down|human):(?P<reply>[0-9a-f]{32}):(?P<scope>[0-9]*)"


def reply_buttons(
    reply: Reply, scope: str, item_class: Callable[..., discord.ui.Item[Any]]
) -> discord.ui.View | None:
    if reply.status not in ACTIONABLE:
        return None
    view = discord.ui.View(timeout=None)
    plain, primary = discord.ButtonStyle.secondary, discord.ButtonStyle.primary
    for action, label, style in (
        ("up", "👍 " + message("feedback_helpful", reply.language), plain),
        ("down", "👎 " + message("feedback_not_helpful", reply.language), plain),
        (
            "human",
            message("talk_to_human", reply.language),
            primary if reply.offer_handoff else plain,
        ),
    ):
        view.add_item(item_class(action, reply.id, scope, label=label, style=style))
    return view
