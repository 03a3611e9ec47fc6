"""Conversation history, kept per conversation id (in memory; bounded)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    role: str  # "human" | "ai"
    text: str
    language: str = ""


class InMemoryHistory:
    def __init__(self, max_messages: int = 12, max_conversations: int = 10_000):
        self._max_messages = max_messages
        self._max_conversations = max_conversations
        self._data: dict[str, deque[Message]] = {}
        self._lock = threading.Lock()

    def messages(self, conversation_id: str) -> list[Message]:
        with self._lock:
            return list(self._data.get(conversation_id, ()))

    def append(self, conversation_id: str, *messages: Message) -> None:
        with self._lock:
            history = self._data.pop(conversation_id, None) or deque(maxlen=self._max_messages)
            history.extend(messages)
            self._data[conversation_id] = history  # re-insert: dict order = recency
            while len(self._data) > self._max_conversations:
                del self._data[next(iter(self._data))]
