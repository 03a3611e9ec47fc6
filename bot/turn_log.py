"""One line per bot turn and per 👍/👎, for the console's overview: turns per language and
channel, how they ended (answered, "I don't know", handed off), feedback, and reply times.

Prometheus has the same counts per process; this log is what one page can read back over a
period, with every worker's turns (a Redis list when Redis is configured).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .json_lines import JsonLines
from .reply import Status

log = logging.getLogger(__name__)

REDIS_KEY = "linguadesk:turns"
KEEP = 100_000

# How a turn ended, as the overview counts it. Silent turns (a person has the conversation)
# and empty messages are no bot turns.
OUTCOMES = {
    Status.ANSWERED: "answered",
    Status.CLARIFY: "answered",
    Status.SMALL_TALK: "answered",
    Status.LANGUAGE_SWITCHED: "answered",
    Status.NO_ANSWER: "no_answer",
    Status.OFF_TOPIC: "no_answer",
    Status.ERROR: "no_answer",
    Status.HANDOFF: "handoff",
    Status.HANDOFF_UNAVAILABLE: "handoff",
    Status.HANDOFF_LIMITED: "handoff",
}


@dataclass(frozen=True)
class TurnRecord:
    kind: str  # "turn" | "feedback"
    channel: str
    language: str
    outcome: str = ""  # of OUTCOMES' values, for a turn
    seconds: float = 0.0  # until the whole reply was out
    rating: str = ""  # "up" | "down", for feedback
    at: float = field(default_factory=time.time)


def outcome_of(status: Status) -> str | None:
    return OUTCOMES.get(status)


class TurnLog:
    def __init__(self, path: Path, redis_url: str | None = None) -> None:
        self._log = JsonLines(path, redis_url, REDIS_KEY, KEEP)

    def record(self, record: TurnRecord) -> None:
        try:
            self._log.add(record)
        except Exception as exc:  # bookkeeping: the customer's turn must not fail over it
            log.warning("a turn could not be counted: %s", type(exc).__name__)

    def read(self, since: float = 0.0) -> list[TurnRecord]:
        return [r for r in self._log.records(TurnRecord) if r.at >= since]


@dataclass
class Overview:
    turns: int
    by_language: Counter
    by_channel: Counter
    outcomes: Counter  # answered | no_answer | handoff
    feedback: Counter  # up | down
    p50_seconds: float | None
    p90_seconds: float | None

    def rate(self, outcome: str) -> float:
        return self.outcomes[outcome] / self.turns if self.turns else 0.0

    def as_json(self) -> dict:
        return {
            "turns": self.turns,
            "by_language": dict(self.by_language.most_common()),
            "by_channel": dict(self.by_channel.most_common()),
            "outcomes": {o: self.outcomes[o] for o in ("answered", "no_answer", "handoff")},
            "rates": {o: round(self.rate(o), 4) for o in ("answered", "no_answer", "handoff")},
            "feedback": {r: self.feedback[r] for r in ("up", "down")},
            "p50_seconds": self.p50_seconds,
            "p90_seconds": self.p90_seconds,
        }


def overview(records: list[TurnRecord]) -> Overview:
    turns = [r for r in records if r.kind == "turn"]
    times = sorted(r.seconds for r in turns if r.seconds > 0)

    def quantile(q: float) -> float | None:
        if not times:
            return None
        if len(times) == 1:
            return round(times[0], 3)
        return round(statistics.quantiles(times, n=100, method="inclusive")[int(q * 100) - 1], 3)

    return Overview(
        turns=len(turns),
        by_language=Counter(r.language or "?" for r in turns),
        by_channel=Counter(r.channel or "api" for r in turns),
        outcomes=Counter(r.outcome for r in turns),
        feedback=Counter(r.rating for r in records if r.kind == "feedback"),
        p50_seconds=quantile(0.5),
        p90_seconds=quantile(0.9),
    )
