"""An append-only log of JSON lines: a file in the data dir, or a Redis list shared by all
workers (the newest ``keep`` kept) when Redis is configured. The failed-turn log and the gap
log are both one."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class JsonLines:
    def __init__(self, path: Path, redis_url: str | None, redis_key: str, keep: int) -> None:
        self.path, self.redis_key, self.keep = path, redis_key, keep
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        if self._redis is not None:
            pipe = self._redis.pipeline()
            pipe.rpush(self.redis_key, line)
            pipe.ltrim(self.redis_key, -self.keep, -1)
            pipe.execute()
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")

    def add(self, record: Any) -> None:
        """A dataclass, as one line."""
        self.append(json.dumps(asdict(record), ensure_ascii=False))

    def records(self, kind: type[T]) -> list[T]:
        """Every line as a ``kind`` dataclass, fields it does not know left out, and torn lines
        (a crash in the middle of a write) skipped."""
        known = kind.__dataclass_fields__  # type: ignore[attr-defined]
        out = []
        for line in self.lines():
            try:
                data = json.loads(line)
                out.append(kind(**{k: v for k, v in data.items() if k in known}))
            except (ValueError, TypeError):
                continue
        return out

    def lines(self) -> list[str]:
        if self._redis is not None:
            return [
                item.decode() if isinstance(item, bytes) else str(item)
                for item in self._redis.lrange(self.redis_key, 0, -1)
            ]
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
