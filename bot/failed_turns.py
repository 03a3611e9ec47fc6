"""Turns a customer got an apology for instead of an answer (the LLM or the store was down),
kept so that the team can follow up: one JSON line each in ``<data dir>/failed-turns.jsonl``,
or a Redis list shared by all workers when Redis is configured."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linguadesk.settings import Settings

log = logging.getLogger(__name__)

REDIS_KEY = "linguadesk:failed-turns"
KEEP = 10_000


class FailedTurnLog:
    def __init__(self, path: Path, redis_url: str | None = None) -> None:
        self.path = path
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._lock = threading.Lock()

    def __call__(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False)
        log.warning(
            "turn of %s not answered (%s failed: %s); kept for a follow-up",
            record.get("conversation"),
            record.get("stage"),
            record.get("error"),
        )
        if self._redis is not None:
            pipe = self._redis.pipeline()
            pipe.rpush(REDIS_KEY, line)
            pipe.ltrim(REDIS_KEY, -KEEP, -1)
            pipe.execute()
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")

    def read(self) -> list[dict]:
        if self._redis is not None:
            return [json.loads(item) for item in self._redis.lrange(REDIS_KEY, 0, -1)]
        if not self.path.exists():
            return []
        return [
            json.loads(line)
            for line in self.path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]


def open_failed_turn_log(settings: Settings) -> FailedTurnLog:
    return FailedTurnLog(settings.data_dir / "failed-turns.jsonl", settings.redis)
