"""Conversation history and state, per conversation key: SQLite in the data dir by default,
Redis when ``LINGUADESK_REDIS_URL`` is set (so any worker can serve any turn).

A key names one conversation on one channel: ``slack:T123:C456:1700000000.000100`` (a thread),
``discord:dm:42``, ``web:<session>``, ``cli:<uuid>``; adapters build it with
:func:`conversation_key`. History is bounded in messages here and in tokens when the prompt is
built; conversations idle for longer than the TTL are forgotten.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from common.language import CJK

if TYPE_CHECKING:
    from linguadesk.settings import Settings


class Role(StrEnum):
    HUMAN = "human"  # the customer
    AI = "ai"  # the bot
    AGENT = "agent"  # a person of the support team, after a handoff


@dataclass(frozen=True)
class Message:
    role: str  # a Role
    text: str
    language: str = ""
    at: float = field(default_factory=time.time)
    id: str = ""  # the bot's replies carry the Reply.id that feedback refers to
    # A message relayed between the team and the customer (see bot/team_chat.py):
    author: str = ""  # the agent's name
    original: str = ""  # what was written, when ``text`` is its translation
    untranslated: bool = False  # the translation failed: ``text`` is the original
    notice: bool = False  # the bot's word outside a turn ("you're back with the assistant")

    @property
    def relayed(self) -> bool:
        """Written outside a turn, for the customer's channel to deliver."""
        return self.role == Role.AGENT or self.notice


_EXTRA = ("author", "original", "untranslated", "notice")


def _message_row(row: tuple) -> Message:
    role, text, language, at, mid, extra = row
    fields = json.loads(extra or "{}")
    return Message(role, text, language, at, mid, **{k: fields[k] for k in _EXTRA if k in fields})


def _extra(m: Message) -> str:
    return json.dumps({k: getattr(m, k) for k in _EXTRA if getattr(m, k)}, ensure_ascii=False)


def _message_json(data: dict) -> Message:
    known = Message.__dataclass_fields__
    return Message(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Feedback:
    reply_id: str
    rating: str  # "up" | "down"
    comment: str = ""
    reply_text: str = ""  # the rated reply, as it was sent
    at: float = field(default_factory=time.time)


@dataclass
class ConversationState:
    language: str = ""  # the language of the bot's last reply
    locked_language: str = ""  # set by an explicit request ("answer in English")
    handed_off: bool = False  # a person has the conversation: the bot stays quiet
    handed_off_at: float = 0.0
    offered_handoff: bool = False  # the last reply offered a person; "yes" accepts
    agent: str = ""  # the person who took the conversation
    handoff_threads: dict[str, str] = field(default_factory=dict)  # notifier -> its thread
    # The team's messages reach Slack and Discord customers through their adapter's delivery
    # loop: ``to_deliver`` while some are newer than ``delivered_at``.
    to_deliver: bool = False
    delivered_at: float = 0.0


def conversation_key(channel: str, *parts: object) -> str:
    """``conversation_key("slack", team, channel, thread_ts)``: colons inside parts are escaped."""
    return ":".join([channel, *(str(p).replace("%", "%25").replace(":", "%3A") for p in parts)])


def conversation_parts(key: str) -> list[str]:
    """The inverse of :func:`conversation_key`: ``[channel, *parts]``."""
    return [p.replace("%3A", ":").replace("%25", "%") for p in key.split(":")]


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate, on the safe side for Qwen-style BPE: ~1 token per CJK
    character, ~1 per 3.5 other characters."""
    cjk = len(CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 3.5) + 1


def within_budget(messages: list[Message], max_tokens: int) -> list[Message]:
    """The most recent messages whose estimated tokens fit the budget (oldest dropped first),
    starting with a customer message so the model never sees a reply without its question."""
    kept: list[Message] = []
    used = 0
    for message in reversed(messages):
        used += estimate_tokens(message.text)
        if used > max_tokens:
            break
        kept.append(message)
    kept.reverse()
    while kept and kept[0].role != "human":
        kept.pop(0)
    return kept


class ConversationStore(Protocol):
    def exists(self, key: str) -> bool: ...
    def messages(self, key: str) -> list[Message]: ...
    def append(self, key: str, *messages: Message) -> None: ...
    def state(self, key: str) -> ConversationState: ...
    def save_state(self, key: str, state: ConversationState) -> None: ...
    def forget(self, key: str) -> None: ...
    def update_state(self, key: str, changes: dict) -> ConversationState: ...
    def claim_state(self, key: str, expected: dict, changes: dict) -> ConversationState | None: ...
    def handed_off(self) -> list[str]: ...
    def to_deliver(self) -> list[str]: ...
    def recent(self, limit: int) -> list[str]: ...
    def add_feedback(self, key: str, feedback: Feedback) -> None: ...
    def feedback(self, key: str) -> list[Feedback]: ...


class SqliteConversationStore:
    """One file, WAL mode: several processes on one machine can share it."""

    _PURGE_EVERY = 200  # appends between sweeps of expired conversations

    def __init__(
        self, path: Path | str, *, max_messages: int = 40, ttl_s: float = 7 * 86400
    ) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._appends = 0
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS conversations (
                    key TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, role TEXT NOT NULL,
                    text TEXT NOT NULL, language TEXT NOT NULL, at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS messages_by_key ON messages (key, id);
                CREATE INDEX IF NOT EXISTS conversations_by_age ON conversations (updated);
                CREATE TABLE IF NOT EXISTS feedback (
                    key TEXT NOT NULL, reply_id TEXT NOT NULL, rating TEXT NOT NULL,
                    comment TEXT NOT NULL, reply_text TEXT NOT NULL, at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS feedback_by_key ON feedback (key);
                """
            )
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
            for column in ("mid", "extra"):  # stores written before replies had ids, ...
                if column in columns:
                    continue
                default = "''" if column == "mid" else "'{}'"
                try:
                    self._db.execute(
                        f"ALTER TABLE messages ADD COLUMN {column} TEXT NOT NULL DEFAULT {default}"
                    )
                except sqlite3.OperationalError as exc:  # another process added it just now
                    if "duplicate column" not in str(exc):
                        raise
        self.purge_expired()

    def _alive(self, key: str) -> bool:
        row = self._db.execute("SELECT updated FROM conversations WHERE key=?", (key,)).fetchone()
        return row is not None and row[0] >= time.time() - self.ttl_s

    def exists(self, key: str) -> bool:
        """Started (state saved or a message kept) and not expired."""
        with self._lock:
            return self._alive(key)

    def messages(self, key: str) -> list[Message]:
        with self._lock:
            if not self._alive(key):
                return []
            rows = self._db.execute(
                "SELECT role, text, language, at, mid, extra FROM messages WHERE key=? "
                "ORDER BY id DESC LIMIT ?",
                (key, self.max_messages),
            ).fetchall()
        return [_message_row(row) for row in reversed(rows)]

    def append(self, key: str, *messages: Message) -> None:
        with self._lock, self._db:
            if not self._alive(key):  # an expired conversation starts over
                self._forget(key)
            self._touch(key)
            self._db.executemany(
                "INSERT INTO messages (key, role, text, language, at, mid, extra) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(key, m.role, m.text, m.language, m.at, m.id, _extra(m)) for m in messages],
            )
            self._db.execute(
                "DELETE FROM messages WHERE key=? AND id NOT IN "
                "(SELECT id FROM messages WHERE key=? ORDER BY id DESC LIMIT ?)",
                (key, key, self.max_messages),
            )
            self._appends += 1
        if self._appends % self._PURGE_EVERY == 0:
            self.purge_expired()

    def _touch(self, key: str, state: ConversationState | None = None) -> None:
        if state is None:
            self._db.execute(
                "INSERT INTO conversations (key, state, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET updated=excluded.updated",
                (key, json.dumps(asdict(ConversationState())), time.time()),
            )
        else:
            self._db.execute(
                "INSERT INTO conversations (key, state, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET state=excluded.state, updated=excluded.updated",
                (key, json.dumps(asdict(state)), time.time()),
            )

    def state(self, key: str) -> ConversationState:
        with self._lock:
            row = self._db.execute(
                "SELECT state, updated FROM conversations WHERE key=?", (key,)
            ).fetchone()
        if row is None or row[1] < time.time() - self.ttl_s:
            return ConversationState()
        return _state(json.loads(row[0]))

    def save_state(self, key: str, state: ConversationState) -> None:
        with self._lock, self._db:
            if not self._alive(key):
                self._forget(key)
            self._touch(key, state)

    def update_state(self, key: str, changes: dict) -> ConversationState:
        """Changes these fields only, atomically across processes (``BEGIN IMMEDIATE``): a
        release saved by another worker meanwhile is not undone."""
        state = self._change_state(key, {}, changes)
        assert state is not None  # nothing was expected
        return state

    def claim_state(self, key: str, expected: dict, changes: dict) -> ConversationState | None:
        """Makes ``changes`` only if the fields in ``expected`` hold these values, in one
        step: of two workers releasing one conversation, one does. The new state, or None."""
        return self._change_state(key, expected, changes)

    def _change_state(self, key: str, expected: dict, changes: dict) -> ConversationState | None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT state, updated FROM conversations WHERE key=?", (key,)
                ).fetchone()
                alive = row is not None and row[1] >= time.time() - self.ttl_s
                state = _state(json.loads(row[0])) if alive and row else ConversationState()
                if not _holds(state, expected):
                    self._db.execute("ROLLBACK")
                    return None
                for name, value in changes.items():
                    setattr(state, name, value)
                if not alive:
                    self._forget(key)
                self._touch(key, state)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return state

    def forget(self, key: str) -> None:
        with self._lock, self._db:
            self._forget(key)

    def _forget(self, key: str) -> None:
        self._db.execute("DELETE FROM messages WHERE key=?", (key,))
        self._db.execute("DELETE FROM feedback WHERE key=?", (key,))
        self._db.execute("DELETE FROM conversations WHERE key=?", (key,))

    def handed_off(self) -> list[str]:
        return self._flagged("handed_off")

    def to_deliver(self) -> list[str]:
        return self._flagged("to_deliver")

    def recent(self, limit: int) -> list[str]:
        """The keys of the conversations last written to, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key FROM conversations WHERE updated >= ? ORDER BY updated DESC LIMIT ?",
                (time.time() - self.ttl_s, limit),
            ).fetchall()
        return [key for (key,) in rows]

    def _flagged(self, flag: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key FROM conversations WHERE updated >= ? "
                "AND json_extract(state, ?) ORDER BY updated",
                (time.time() - self.ttl_s, f"$.{flag}"),
            ).fetchall()
        return [key for (key,) in rows]

    def purge_expired(self) -> int:
        cutoff = time.time() - self.ttl_s
        with self._lock, self._db:
            for table in ("messages", "feedback"):
                self._db.execute(
                    f"DELETE FROM {table} WHERE key IN "
                    "(SELECT key FROM conversations WHERE updated < ?)",
                    (cutoff,),
                )
            return self._db.execute(
                "DELETE FROM conversations WHERE updated < ?", (cutoff,)
            ).rowcount

    def add_feedback(self, key: str, feedback: Feedback) -> None:
        """One rating per reply: rating it again replaces the earlier one."""
        with self._lock, self._db:
            self._db.execute(
                "DELETE FROM feedback WHERE key=? AND reply_id=?", (key, feedback.reply_id)
            )
            self._db.execute(
                "INSERT INTO feedback (key, reply_id, rating, comment, reply_text, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key,
                    feedback.reply_id,
                    feedback.rating,
                    feedback.comment,
                    feedback.reply_text,
                    feedback.at,
                ),
            )

    def feedback(self, key: str) -> list[Feedback]:
        with self._lock:
            rows = self._db.execute(
                "SELECT reply_id, rating, comment, reply_text, at FROM feedback WHERE key=? "
                "ORDER BY at",
                (key,),
            ).fetchall()
        return [Feedback(*row) for row in rows]

    def close(self) -> None:
        self._db.close()


class RedisConversationStore:
    """Keys ``{prefix}:{key}:messages`` (a list of JSON messages) and ``{prefix}:{key}:state``;
    both carry the TTL, refreshed on every write, so Redis expires idle conversations itself."""

    def __init__(
        self,
        url: str,
        *,
        max_messages: int = 40,
        ttl_s: float = 7 * 86400,
        prefix: str = "linguadesk:conversation",
    ) -> None:
        import redis

        self._redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
        )
        self.max_messages = max_messages
        self.ttl_s = int(ttl_s)
        self.prefix = prefix

    def _keys(self, key: str) -> tuple[str, str]:
        return f"{self.prefix}:{key}:messages", f"{self.prefix}:{key}:state"

    def exists(self, key: str) -> bool:
        return bool(self._redis.exists(*self._keys(key)))

    def messages(self, key: str) -> list[Message]:
        items = self._redis.lrange(self._keys(key)[0], -self.max_messages, -1)
        return [_message_json(json.loads(item)) for item in items]

    def append(self, key: str, *messages: Message) -> None:
        messages_key, state_key = self._keys(key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.rpush(messages_key, *(json.dumps(asdict(m), ensure_ascii=False) for m in messages))
        pipe.ltrim(messages_key, -self.max_messages, -1)
        pipe.expire(messages_key, self.ttl_s)
        pipe.expire(state_key, self.ttl_s)
        pipe.expire(f"{self.prefix}:{key}:feedback", self.ttl_s)
        self._queue_recent(pipe, key)
        pipe.execute()

    def _queue_recent(self, pipe: Any, key: str) -> None:
        now = time.time()
        pipe.zadd(f"{self.prefix}s:recent", {key: now})
        pipe.zremrangebyscore(f"{self.prefix}s:recent", 0, now - self.ttl_s)

    def recent(self, limit: int) -> list[str]:
        """The keys of the conversations last written to, newest first."""
        keys: list[str] = self._redis.zrevrangebyscore(  # type: ignore[assignment]
            f"{self.prefix}s:recent", "+inf", time.time() - self.ttl_s, start=0, num=limit
        )
        return keys

    def state(self, key: str) -> ConversationState:
        raw = self._redis.get(self._keys(key)[1])
        return _state(json.loads(raw)) if raw else ConversationState()

    def save_state(self, key: str, state: ConversationState) -> None:
        pipe = self._redis.pipeline(transaction=True)
        self._queue_state(pipe, key, state)
        pipe.execute()

    def _queue_state(self, pipe: Any, key: str, state: ConversationState) -> None:
        messages_key, state_key = self._keys(key)
        pipe.set(state_key, json.dumps(asdict(state)), ex=self.ttl_s)
        pipe.expire(messages_key, self.ttl_s)
        self._queue_recent(pipe, key)
        if state.handed_off:
            pipe.zadd(f"{self.prefix}s:handed-off", {key: state.handed_off_at or time.time()})
        else:
            pipe.zrem(f"{self.prefix}s:handed-off", key)
        if state.to_deliver:
            pipe.zadd(f"{self.prefix}s:to-deliver", {key: time.time()})
        else:
            pipe.zrem(f"{self.prefix}s:to-deliver", key)

    def update_state(self, key: str, changes: dict) -> ConversationState:
        """Changes these fields only, with WATCH/MULTI: retried when another worker changed the
        state meanwhile."""
        state = self._change_state(key, {}, changes)
        assert state is not None  # nothing was expected
        return state

    def claim_state(self, key: str, expected: dict, changes: dict) -> ConversationState | None:
        """Makes ``changes`` only if the fields in ``expected`` hold these values, in one
        step (WATCH/MULTI): of two workers releasing one conversation, one does. The new
        state, or None."""
        return self._change_state(key, expected, changes)

    def _change_state(self, key: str, expected: dict, changes: dict) -> ConversationState | None:
        import redis

        _, state_key = self._keys(key)
        while True:
            with self._redis.pipeline() as pipe:
                try:
                    pipe.watch(state_key)
                    raw = pipe.get(state_key)
                    state = _state(json.loads(raw)) if raw else ConversationState()
                    if not _holds(state, expected):
                        return None
                    for name, value in changes.items():
                        setattr(state, name, value)
                    pipe.multi()
                    self._queue_state(pipe, key, state)
                    pipe.execute()
                    return state
                except redis.WatchError:
                    continue

    def forget(self, key: str) -> None:
        self._redis.delete(*self._keys(key), f"{self.prefix}:{key}:feedback")
        self._redis.zrem(f"{self.prefix}s:handed-off", key)
        self._redis.zrem(f"{self.prefix}s:to-deliver", key)
        self._redis.zrem(f"{self.prefix}s:recent", key)

    def handed_off(self) -> list[str]:
        return self._flagged("handed-off", "handed_off")

    def to_deliver(self) -> list[str]:
        return self._flagged("to-deliver", "to_deliver")

    def _flagged(self, index_name: str, flag: str) -> list[str]:
        index = f"{self.prefix}s:{index_name}"
        # decode_responses=True and no scores: the members are str, which redis's overloads
        # cannot tell from the bytes/tuple results of its other modes
        keys: list[str] = self._redis.zrange(index, 0, -1)  # type: ignore[assignment]
        gone = [k for k in keys if not getattr(self.state(k), flag)]  # done, or expired
        if gone:
            self._redis.zrem(index, *gone)
        return [k for k in keys if k not in gone]

    def add_feedback(self, key: str, feedback: Feedback) -> None:
        """A hash by reply id: rating a reply again replaces the earlier rating."""
        name = f"{self.prefix}:{key}:feedback"
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(name, feedback.reply_id, json.dumps(asdict(feedback), ensure_ascii=False))
        pipe.expire(name, self.ttl_s)
        pipe.execute()

    def feedback(self, key: str) -> list[Feedback]:
        items = self._redis.hgetall(f"{self.prefix}:{key}:feedback").values()
        return sorted((Feedback(**json.loads(item)) for item in items), key=lambda f: f.at)


def release(store: ConversationStore, key: str) -> bool:
    """A person is done with a handed-off conversation: the bot answers it again."""
    state = store.state(key)
    if not state.handed_off:
        return False
    state.handed_off = False
    store.save_state(key, state)
    return True


def _holds(state: ConversationState, expected: dict) -> bool:
    return all(getattr(state, name) == value for name, value in expected.items())


def _state(data: dict) -> ConversationState:
    known = ConversationState.__dataclass_fields__
    return ConversationState(**{k: v for k, v in data.items() if k in known})


def open_conversation_store(settings: Settings) -> ConversationStore:
    url = settings.redis  # None unless redis_url is set
    if url:
        return RedisConversationStore(
            url,
            max_messages=settings.conversations.history_max_messages,
            ttl_s=settings.conversations.ttl_s,
        )
    return SqliteConversationStore(
        settings.data_dir / "conversations.sqlite3",
        max_messages=settings.conversations.history_max_messages,
        ttl_s=settings.conversations.ttl_s,
    )
