"""Prometheus metrics for every adapter: adapters report each finished reply here.

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` histograms); the web
adapter serves them at ``GET /metrics``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from .reply import Reply, Status

TURNS = Counter(
    "linguadesk_turns_total",
    "Replies given, by channel, status and language",
    ["channel", "status", "language"],
)
TURN_SECONDS = Histogram(
    "linguadesk_turn_seconds",
    "Time from a message to the whole reply",
    ["channel"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120),
)
FIRST_TOKEN_SECONDS = Histogram(
    "linguadesk_first_token_seconds",
    "Time from a message to the first streamed text",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60),
)
RETRIEVAL_CONFIDENCE = Histogram(
    "linguadesk_retrieval_confidence",
    "Calibrated relevance of the best FAQ entry per question",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
HANDOFFS = Counter("linguadesk_handoffs_total", "Conversations handed to a person", ["channel"])
FEEDBACK = Counter("linguadesk_feedback_total", "Feedback on replies", ["channel", "rating"])
ERRORS = Counter("linguadesk_errors_total", "Failures by kind", ["kind"])
RATE_LIMITED = Counter(
    "linguadesk_rate_limited_total", "Requests refused by a rate limit", ["scope"]
)


def observe_reply(
    reply: Reply, channel: str, seconds: float, first_token_s: float | None = None
) -> None:
    """Count a finished reply (``bot.engine.Reply``)."""
    TURNS.labels(channel, reply.status, reply.language or "?").inc()
    TURN_SECONDS.labels(channel).observe(seconds)
    if first_token_s is not None:
        FIRST_TOKEN_SECONDS.labels(channel).observe(first_token_s)
    if reply.query:  # retrieval ran for this turn
        RETRIEVAL_CONFIDENCE.observe(reply.confidence)
    if reply.status == Status.HANDOFF:
        HANDOFFS.labels(channel).inc()
    if reply.error:
        ERRORS.labels(reply.error).inc()
