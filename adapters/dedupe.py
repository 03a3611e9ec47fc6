"""Platforms deliver some events more than once (Slack retries a slow delivery with a new
``X-Slack-Retry-Num`` and the same ``event_id``; a resumed gateway replays): each is answered
once. Kept in Redis when configured, so that every worker sees the others' deliveries."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class SeenEvents:
    def __init__(
        self,
        redis_url: str | None = None,
        *,
        ttl_s: float = 3600.0,
        max_entries: int = 100_000,
        prefix: str = "linguadesk:seen:",
    ):
        self.ttl_s, self.max_entries, self.prefix = ttl_s, max_entries, prefix
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        """True for the first delivery of ``event_id``; False for every repeat."""
        if self._redis is not None:
            return bool(
                self._redis.set(self.prefix + event_id, 1, nx=True, ex=max(1, int(self.ttl_s)))
            )
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) >= self.max_entries or next(iter(self._seen.values())) < now
            ):
                self._seen.popitem(last=False)
            if event_id in self._seen:
                return False
            self._seen[event_id] = now + self.ttl_s
            return True
