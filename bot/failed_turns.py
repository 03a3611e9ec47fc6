"""Turns a customer got an apology for instead of an answer (the LLM or the store was down),
kept so that the team can follow up: one JSON line each in ``<data dir>/failed-turns.jsonl``,
or a Redis list shared by all workers when Redis is configured."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .json_lines import JsonLines

if TYPE_CHECKING:
    from linguadesk.settings import Settings

log = logging.getLogger(__name__)

REDIS_KEY = "linguadesk:failed-turns"
KEEP = 10_000


class FailedTurnLog:
    def __init__(self, path: Path, redis_url: str | None = None) -> None:
        self.path = path
        self._log = JsonLines(path, redis_url, REDIS_KEY, KEEP)

    def __call__(self, record: dict) -> None:
        log.warning(
            "turn of %s not answered (%s failed: %s); kept for a follow-up",
            record.get("conversation"),
            record.get("stage"),
            record.get("error"),
        )
        self._log.append(json.dumps(record, ensure_ascii=False))

    def read(self) -> list[dict]:
        return [json.loads(line) for line in self._log.lines()]


def open_failed_turn_log(settings: Settings) -> FailedTurnLog:
    return FailedTurnLog(settings.data_dir / "failed-turns.jsonl", settings.redis)
