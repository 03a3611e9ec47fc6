"""Streaming into chat platforms that cannot stream: post one message, then edit it as the
tokens arrive, no more often than the platform's rate limits allow; split what is too long."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

# Shown after the text while it is still being written.
WRITING = " …"


def stream_by_editing(tokens: Iterable[str], edit: Callable[[str], None], *, interval_s: float,
                      clock: Callable[[], float] = time.monotonic) -> tuple[str, float | None]:
    """Feed the tokens to ``edit(text so far + " …")`` at most once per ``interval_s``.

    Returns the whole text and the seconds until the first token (None without tokens); the
    caller makes the final edit itself, with the finished message.
    """
    started = last = clock()
    text, first = "", None
    for token in tokens:
        if first is None:
            first = clock() - started
        text += token
        now = clock()
        if now - last >= interval_s and text.strip():
            edit(text + WRITING)
            last = now
    return text, first


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?。！？])\s*"),
           re.compile(r"\s"))


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at a paragraph, line, sentence or word
    break when there is one in the second half of the piece."""
    pieces = []
    text = text.strip()
    while len(text) > limit:
        cut = 0
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(text, 0, limit + 1) if m.end() <= limit]
            if ends and ends[-1] > limit // 2:
                cut = ends[-1]
                break
        cut = cut or limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces
