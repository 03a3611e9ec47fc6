"""When to try again a delivery that failed: 1 s, 2 s, 4 s … up to 5 minutes between tries,
and after ``give_up_after`` failures in a row, not at all (a closed DM, a deleted channel)."""

from __future__ import annotations

import threading
import time


class Retries:
    def __init__(self, give_up_after: int = 12, longest_s: float = 300.0) -> None:
        self.give_up_after, self.longest_s = give_up_after, longest_s
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, next try)
        self._lock = threading.Lock()

    def due(self, key: str) -> bool:
        with self._lock:
            failures = self._failures.get(key)
        return failures is None or time.monotonic() >= failures[1]

    def failed(self, key: str) -> bool:
        """Counts a failure; True when it is time to give up (the count starts over)."""
        with self._lock:
            count = self._failures.get(key, (0, 0.0))[0] + 1
            if count >= self.give_up_after:
                self._failures.pop(key, None)
                return True
            wait = min(self.longest_s, 2.0 ** (count - 1))
            self._failures[key] = (count, time.monotonic() + wait)
            return False

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
