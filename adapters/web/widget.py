"""``/widget.js``: the widget's script with its UI strings, from the same gettext catalogs as
the bot's fixed texts, so every supported language has every string."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

from bot.messages import SUPPORTED_LANGUAGES, message

SOURCE = Path(__file__).parent / "static" / "widget.js"
PLACEHOLDER = "/*LINGUADESK_STRINGS*/{}"
# Catalog keys the widget shows (the widget_* ones plus shared texts).
WIDGET_KEYS = (
    "widget_title",
    "widget_open",
    "widget_close",
    "widget_placeholder",
    "widget_send",
    "widget_thinking",
    "widget_error",
    "widget_you",
    "widget_assistant",
    "widget_agent",
    "widget_conversation",
    "greeting",
    "sources",
    "talk_to_human",
    "new_conversation",
    "feedback_helpful",
    "feedback_not_helpful",
    "feedback_thanks",
    "conversation_restarted",
    "message_too_long",
    "agent_untranslated",
)


def widget_strings() -> dict[str, dict[str, str]]:
    return {
        lang: {key.removeprefix("widget_"): message(key, lang) for key in WIDGET_KEYS}
        for lang in SUPPORTED_LANGUAGES
    }


@cache
def widget_script() -> bytes:
    source = SOURCE.read_text(encoding="utf-8")
    if PLACEHOLDER not in source:
        raise RuntimeError(f"{SOURCE} lost its {PLACEHOLDER} marker")
    strings = json.dumps(widget_strings(), ensure_ascii=False, separators=(",", ":"))
    return source.replace(PLACEHOLDER, strings).encode("utf-8")


def gzipped_size() -> int:
    return len(gzip.compress(widget_script(), compresslevel=9))
