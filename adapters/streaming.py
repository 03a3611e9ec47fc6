"""Streaming into chat platforms that cannot stream: post one message, then edit it as the
tokens arrive, no more often than the platform's rate limits allow; split what is too long."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

# Shown after the text while it is still being written.
WRITING = " …"


class EditBudget:
    """A token bucket shared by every answer streaming at once: a platform's edit limit is per
    workspace or channel, not per message. Previews without a token are skipped."""

    def __init__(self, per_minute: float, burst: int = 5):
        self.rate, self.capacity = per_minute / 60.0, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def stream_by_editing(
    tokens: Iterable[str],
    edit: Callable[[str], None],
    *,
    interval_s: float,
    budget: EditBudget | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Feed the tokens to ``edit(text so far + " …")`` at most once per ``interval_s`` (and
    only with a token from ``budget``).

    Returns the whole text; the caller makes the final edit itself, with the finished message.
    A failed preview edit stops the previews, not the answer: the reply is still read to its
    end (and so remembered).
    """
    last = clock()
    text, previews = "", True
    for token in tokens:
        text += token
        now = clock()
        if (
            previews
            and now - last >= interval_s
            and text.strip()
            and (budget is None or budget.take())
        ):
            try:
                edit(text + WRITING)
            except Exception as exc:
                log.warning(
                    "a preview edit failed (%s: %s); the answer will be sent when it is complete",
                    type(exc).__name__,
                    exc,
                )
                previews = False
            last = now
    return text


_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?。！？])\s*"),
    re.compile(r"\s"),
)


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
