"""A local stand-in for Discord's servers, at the network boundary, in Discord's wire format.

``FakeDiscord`` is a real aiohttp server on 127.0.0.1 that speaks the Discord API v10 JSON
(REST routes under ``/api/v10``) and the gateway websocket (``/gateway``), so the *real*
discord.py ``Client`` / ``commands.Bot`` code runs against it unchanged::

    with FakeDiscord() as fake:
        fake.patch(monkeypatch)                 # point discord.py at the fake
        client = discord.Client(intents=...)
        with run_client(client) as runner:      # client.start() in its own loop thread
            fake.send_message(fake.text_channel_id, "hi", mentions_bot=True)
            req = fake.wait_for_request(method="POST", path=r"/channels/\\d+/messages")

Everything the bot sends is recorded (``fake.requests``); the test drives users through
``send_message``/``send_dm``/``create_thread``/``click_button``/``run_command``/``submit_modal``,
which dispatch gateway events exactly as Discord would. Errors come back in Discord's shapes
(``{"message", "code", "errors"}``) and the fake enforces some of Discord's real limits
(2000-character content, embed/component limits, interaction acknowledged once, ...).

The server runs in a background thread with its own event loop; every public method is
thread-safe and may be called from the test thread (or any other thread but the fake's own).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import hashlib
import json
import mimetypes
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["FakeDiscord", "RecordedRequest", "ClientRunner", "run_client", "Intents", "Perm"]

DISCORD_EPOCH_MS = 1420070400000
API_VERSION = 10


class Intents:
    """Gateway intent bits (https://discord.com/developers/docs/events/gateway#list-of-intents)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


class Perm:
    """Permission bits (https://discord.com/developers/docs/topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 51) - 1

    EVERYONE = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CONNECT
        | SPEAK
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | SEND_MESSAGES_IN_THREADS
    )
    SUPPORT_ADMIN = (
        MANAGE_GUILD | MANAGE_CHANNELS | MANAGE_MESSAGES | MANAGE_THREADS | VIEW_AUDIT_LOG
    )
    BOT = EVERYONE | MANAGE_MESSAGES | MANAGE_THREADS | MANAGE_WEBHOOKS


# message flags
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_COMPONENTS_V2 = 1 << 15

_GUILD_EVENTS = {
    "GUILD_CREATE",
    "GUILD_UPDATE",
    "GUILD_DELETE",
    "CHANNEL_CREATE",
    "CHANNEL_UPDATE",
    "CHANNEL_DELETE",
    "THREAD_CREATE",
    "THREAD_UPDATE",
    "THREAD_DELETE",
    "THREAD_LIST_SYNC",
    "THREAD_MEMBER_UPDATE",
    "GUILD_ROLE_CREATE",
    "GUILD_ROLE_UPDATE",
    "GUILD_ROLE_DELETE",
}
_MEMBER_EVENTS = {
    "GUILD_MEMBER_ADD",
    "GUILD_MEMBER_UPDATE",
    "GUILD_MEMBER_REMOVE",
    "THREAD_MEMBERS_UPDATE",
}
_MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}


def _iso(ms: float | None = None) -> str:
    ms = time.time() * 1000 if ms is None else ms
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="microseconds")


def _snowflake_iso(snowflake: str) -> str:
    return _iso((int(snowflake) >> 22) + DISCORD_EPOCH_MS)


def _error(code: int, message: str, errors: dict | None = None) -> dict:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return body


def _put_field_error(errors: dict, path: Iterable[Any], code: str, message: str) -> None:
    node = errors
    for part in path:
        node = node.setdefault(str(part), {})
    node.setdefault("_errors", []).append({"code": code, "message": message})


class _Reply(Exception):
    """Raised inside a route handler to answer with an error status/body."""

    def __init__(self, status: int, body: Any):
        super().__init__(status, body)
        self.status = status
        self.body = body


def _invalid_form(errors: dict) -> _Reply:
    return _Reply(400, _error(50035, "Invalid Form Body", errors))


@dataclass
class RecordedRequest:
    """One HTTP request the client made to the fake, and what the fake answered."""

    method: str
    path: str  # relative to the API base, e.g. "/channels/123/messages" (no query string)
    query: dict[str, str]
    headers: dict[str, str]
    json: Any  # the JSON body, or the decoded ``payload_json`` part of a multipart body
    files: list[dict[str, Any]] = field(
        default_factory=list
    )  # {"name","filename","content_type","data"}
    route: str | None = None  # the route template that handled it; None for unknown routes
    status: int = 0
    response: Any = None
    time: float = 0.0

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.method} {self.path} -> {self.status}>"


@dataclass
class _Injection:
    method: str
    pattern: re.Pattern
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int


class _Session:
    def __init__(self, session_id: str, intents: int, identify: dict):
        self.id = session_id
        self.intents = intents
        self.identify = identify
        self.seq = 0
        self.ws: web.WebSocketResponse | None = None


class FakeDiscord:
    """A fake Discord (REST API v10 + gateway) on 127.0.0.1. Use as a context manager.

    The world (all ids are snowflake strings, real timestamps, increasing):
    ``bot_user``/``bot_id``/``bot_member``, ``application_id``, ``guild_id`` (``guild_name``),
    ``owner_id``/``owner`` (guild owner: every permission), ``admin`` (member with the
    ``admin_role_id`` "Support admins" role), ``member`` (plain member), ``everyone_role_id``,
    ``text_channel_id``, ``forum_channel_id`` with ``forum_tags``, ``dm_channel_id`` (``member``'s
    DM with the bot). Members are Discord member objects (``{"user": {...}, "roles": [...], ...}``);
    wherever a user is expected, a member dict, a user dict or an id is accepted.

    ``add_guild`` adds another server the bot is in (its own owner, roles, members and text
    channel; GUILD_CREATE as when the bot is invited), ``add_role``/``add_member`` take a
    ``guild_id``; interactions and messages carry the guild of their channel.

    Connection: ``api_base``, ``gateway_url``, ``base_url``, ``port``; ``patch(monkeypatch)`` or
    ``with fake.patched():`` points discord.py here.
    """

    def __init__(
        self,
        *,
        bot_name: str = "Linguadesk",
        guild_name: str = "Linguadesk Support",
        text_channel_name: str = "support",
        forum_channel_name: str = "help-forum",
        admin_role_name: str = "Support admins",
        admin_name: str = "alice_admin",
        member_name: str = "bob_customer",
        owner_name: str = "olivia_owner",
        forum_tags: Iterable[str] = ("Question", "Resolved"),
        locale: str = "en-US",
        token: str | None = None,
        heartbeat_interval: int = 41250,
    ) -> None:
        """``token``: if given, REST calls must carry ``Authorization: Bot <token>`` (else 401)
        and IDENTIFY must use it (else the gateway closes with 4004)."""
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._last_snowflake = 0
        self.token = token
        self.guild_name = guild_name
        self.locale = locale
        self.heartbeat_interval = heartbeat_interval

        self._users: dict[str, dict] = {}
        self._members: dict[str, dict] = {}  # user id -> guild member (with "user")
        self._roles: dict[str, dict] = {}
        self._channels: dict[str, dict] = {}  # guild channels, threads and DM channels
        self._dm_by_user: dict[str, str] = {}
        self._messages: dict[str, dict] = {}  # REST-shaped message objects (no guild_id/member)
        self._channel_messages: dict[str, list[str]] = {}
        self._history: dict[str, list[dict]] = {}
        self._deleted: set[str] = set()
        self._attachment_data: dict[str, bytes] = {}
        self._commands: dict[str | None, list[dict]] = {}  # guild id (None = global) -> commands
        self._command_ids: dict[tuple, str] = {}  # (guild id, type, name) -> stable id
        self._interactions: dict[str, dict] = {}
        self._modals: dict[str, dict] = {}  # modal custom_id -> {"data", "interaction_id"}
        self._requests: list[RecordedRequest] = []
        self._events: list[dict] = []
        self._gateway_received: list[dict] = []
        self._injections: list[_Injection] = []
        self._sessions: dict[str, _Session] = {}
        self._ws_locks: dict[int, asyncio.Lock] = {}

        self.application_id = self._snowflake()
        self.bot_id = self._snowflake()
        self.bot_user = self._add_user(self.bot_id, bot_name, bot=True, discriminator="4821")
        self.guild_id = self._snowflake()
        self.everyone_role_id = self.guild_id
        self._roles[self.guild_id] = self._role(
            self.guild_id, "@everyone", Perm.EVERYONE, position=0
        )
        self.admin_role_id = self._snowflake()
        self._roles[self.admin_role_id] = self._role(
            self.admin_role_id,
            admin_role_name,
            Perm.SUPPORT_ADMIN,
            position=1,
            hoist=True,
            mentionable=True,
        )
        self.bot_role_id = self._snowflake()
        self._roles[self.bot_role_id] = self._role(
            self.bot_role_id,
            bot_name,
            Perm.BOT,
            position=2,
            managed=True,
            tags={"bot_id": self.bot_id},
        )
        self.owner_id = self._snowflake()
        self.owner = self._add_member(self.owner_id, owner_name, roles=[])
        admin_id = self._snowflake()
        self.admin = self._add_member(admin_id, admin_name, roles=[self.admin_role_id])
        member_id = self._snowflake()
        self.member = self._add_member(member_id, member_name, roles=[])
        self.bot_member = self._add_member(self.bot_id, bot_name, roles=[self.bot_role_id])

        self.text_channel_id = self._snowflake()
        self._channels[self.text_channel_id] = {
            "id": self.text_channel_id,
            "type": 0,
            "guild_id": self.guild_id,
            "name": text_channel_name,
            "position": 0,
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
            "last_pin_timestamp": None,
            "default_thread_rate_limit_per_user": 0,
            "default_auto_archive_duration": 1440,
        }
        self.forum_channel_id = self._snowflake()
        self.forum_tags = [
            {
                "id": self._snowflake(),
                "name": name,
                "moderated": False,
                "emoji_id": None,
                "emoji_name": None,
            }
            for name in forum_tags
        ]
        self._channels[self.forum_channel_id] = {
            "id": self.forum_channel_id,
            "type": 15,
            "guild_id": self.guild_id,
            "name": forum_channel_name,
            "position": 1,
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
            "available_tags": self.forum_tags,
            "default_reaction_emoji": None,
            "default_sort_order": None,
            "default_forum_layout": 0,
            "default_thread_rate_limit_per_user": 0,
            "default_auto_archive_duration": 4320,
            "template": "",
        }
        self.dm_channel_id = self._ensure_dm(self.member["user"]["id"])["id"]
        self.guild_joined_at = _iso()
        # guild id -> {"name", "owner_id", "roles", "members", "system_channel_id", "joined_at"};
        # the first guild's roles and members are ``_roles`` and ``_members``
        self._guilds: dict[str, dict] = {
            self.guild_id: {
                "name": guild_name,
                "owner_id": self.owner_id,
                "roles": self._roles,
                "members": self._members,
                "system_channel_id": self.text_channel_id,
                "joined_at": self.guild_joined_at,
            }
        }

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ data model helpers

    def _snowflake(self) -> str:
        with self._lock:
            now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            self._last_snowflake = max(self._last_snowflake + 1, now)
            return str(self._last_snowflake)

    def _add_user(
        self, uid: str, username: str, *, bot: bool = False, discriminator: str = "0"
    ) -> dict:
        user = {
            "id": uid,
            "username": username,
            "discriminator": discriminator,
            "global_name": None if bot else username.title(),
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
            "collectibles": None,
        }
        if bot:
            user["bot"] = True
        self._users[uid] = user
        return user

    def _add_member(
        self,
        uid: str,
        username: str,
        *,
        roles: list[str],
        bot: bool = False,
        members: dict | None = None,
    ) -> dict:
        user = self._users.get(uid) or self._add_user(uid, username, bot=bot)
        member = {
            "user": user,
            "nick": None,
            "avatar": None,
            "banner": None,
            "roles": list(roles),
            "joined_at": _iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
            "avatar_decoration_data": None,
        }
        (self._members if members is None else members)[uid] = member
        return member

    def _role(
        self,
        rid: str,
        name: str,
        permissions: int,
        *,
        position: int,
        hoist: bool = False,
        mentionable: bool = False,
        managed: bool = False,
        tags: dict | None = None,
    ) -> dict:
        role = {
            "id": rid,
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": managed,
            "mentionable": mentionable,
            "flags": 0,
        }
        if tags is not None:
            role["tags"] = tags
        return role

    def _ensure_dm(self, user_id: str) -> dict:
        with self._lock:
            cid = self._dm_by_user.get(user_id)
            if cid is None:
                cid = self._snowflake()
                self._dm_by_user[user_id] = cid
                self._channels[cid] = {
                    "id": cid,
                    "type": 1,
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [self._users[user_id]],
                }
            return self._channels[cid]

    def _guild(self, guild_id: str | None = None) -> dict:
        return self._guilds[str(guild_id or self.guild_id)]

    def permissions_of(self, user_id: str, guild_id: Any = None) -> int:
        """Guild-level permission integer of a member (owner and administrators get everything)."""
        user_id, guild_id = str(user_id), str(guild_id or self.guild_id)
        with self._lock:
            guild = self._guild(guild_id)
            if user_id == guild["owner_id"]:
                return Perm.ALL
            member = guild["members"].get(user_id)
            perms = int(guild["roles"][guild_id]["permissions"])
            for rid in (member or {}).get("roles", []):
                if rid in guild["roles"]:
                    perms |= int(guild["roles"][rid]["permissions"])
            return Perm.ALL if perms & Perm.ADMINISTRATOR else perms

    def _resolve_person(self, who: Any, guild_id: str | None = None) -> tuple[dict, dict | None]:
        """(user, member of that guild or None) from a member dict, user dict, or id."""
        if isinstance(who, dict):
            uid = str(who["user"]["id"] if "user" in who else who["id"])
        else:
            uid = str(who)
        with self._lock:
            user = self._users.get(uid)
            if user is None:
                raise ValueError(f"unknown user {uid!r}")
            return user, self._guild(guild_id)["members"].get(uid)

    def _guild_channel(self, channel_id: str) -> dict | None:
        ch = self._channels.get(str(channel_id))
        return ch if ch is not None and ch.get("guild_id") in self._guilds else None

    def _guild_of(self, channel_id: Any) -> str | None:
        """The guild id of a guild channel or thread (None for a DM or an unknown channel)."""
        ch = self._guild_channel(channel_id)
        return ch["guild_id"] if ch is not None else None

    def _partial_member(self, member: dict) -> dict:
        return {k: v for k, v in member.items() if k != "user"}

    def add_member(
        self, username: str, *, roles: Iterable[str] = (), admin: bool = False, guild_id: Any = None
    ) -> dict:
        """Add a guild member (``admin=True`` gives the "Support admins" role); dispatches
        GUILD_MEMBER_ADD (delivered only with the members intent). Returns the member object."""
        guild_id = str(guild_id or self.guild_id)
        roles = list(roles) + ([self.admin_role_id] if admin else [])
        with self._lock:
            member = self._add_member(
                self._snowflake(), username, roles=roles, members=self._guild(guild_id)["members"]
            )
        if self._loop is not None:
            payload = copy.deepcopy(member)
            payload["guild_id"] = guild_id
            self._call(self._dispatch("GUILD_MEMBER_ADD", payload))
        return copy.deepcopy(member)

    def add_role(self, name: str, permissions: int = 0, *, guild_id: Any = None) -> dict:
        """Add a role (names need not be unique, as in Discord); dispatches GUILD_ROLE_CREATE.
        Returns the role object."""
        guild_id = str(guild_id or self.guild_id)
        with self._lock:
            roles = self._guild(guild_id)["roles"]
            rid = self._snowflake()
            roles[rid] = self._role(rid, name, permissions, position=len(roles))
            role = copy.deepcopy(roles[rid])
        if self._loop is not None:
            self._call(
                self._dispatch(
                    "GUILD_ROLE_CREATE", {"guild_id": guild_id, "role": copy.deepcopy(role)}
                )
            )
        return role

    def add_guild(
        self, name: str, *, owner_name: str = "mallory_owner", channel_name: str = "general"
    ) -> dict:
        """Another server the bot is in: its owner (a user of its own, every permission there), an
        @everyone role, the bot's member and a text channel. While a client is connected this
        dispatches GUILD_CREATE, as when somebody invites the bot. Returns
        ``{"id", "name", "owner", "text_channel_id", "everyone_role_id"}``."""
        with self._lock:
            gid = self._snowflake()
            roles = {gid: self._role(gid, "@everyone", Perm.EVERYONE, position=0)}
            members: dict[str, dict] = {}
            owner = self._add_member(self._snowflake(), owner_name, roles=[], members=members)
            self._add_member(self.bot_id, self.bot_user["username"], roles=[], members=members)
            cid = self._snowflake()
            self._channels[cid] = {
                "id": cid,
                "type": 0,
                "guild_id": gid,
                "name": channel_name,
                "position": 0,
                "permission_overwrites": [],
                "topic": None,
                "nsfw": False,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "parent_id": None,
                "flags": 0,
                "last_pin_timestamp": None,
                "default_thread_rate_limit_per_user": 0,
                "default_auto_archive_duration": 1440,
            }
            self._guilds[gid] = {
                "name": name,
                "owner_id": owner["user"]["id"],
                "roles": roles,
                "members": members,
                "system_channel_id": cid,
                "joined_at": _iso(),
            }
        if self._loop is not None:

            async def invited() -> None:
                for session in list(self._sessions.values()):
                    if session.intents & Intents.GUILDS:
                        await self._send_dispatch(
                            session,
                            "GUILD_CREATE",
                            self._guild_create_payload(session.intents, gid),
                        )

            self._call(invited())
        return {
            "id": gid,
            "name": name,
            "owner": copy.deepcopy(owner),
            "text_channel_id": cid,
            "everyone_role_id": gid,
        }

    def add_user(self, username: str) -> dict:
        """A Discord user who is *not* a member of the guild (e.g. for DMs). Returns the user object."""
        with self._lock:
            return copy.deepcopy(self._add_user(self._snowflake(), username))

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeDiscord:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-discord", daemon=True)
        self._thread.start()
        self._call(self._start_server())

    def stop(self) -> None:
        if self._loop is None:
            return
        loop, thread = self._loop, self._thread
        try:
            self._call(self._stop_server(), timeout=15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            self._loop = None
            self._thread = None

    async def _start_server(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        app.router.add_get("/gateway/", self._gateway_handler)
        app.router.add_get(
            "/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment_handler
        )
        app.router.add_route("*", "/cdn/{tail:.*}", self._cdn_handler)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._api_handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _stop_server(self) -> None:
        for session in list(self._sessions.values()):
            if session.ws is not None and not session.ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        session.ws.close(code=1001, message=b"fake discord shutting down"), 2
                    )
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        if self._loop is None:
            coro.close()
            raise RuntimeError("FakeDiscord is not running (use it as a context manager)")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def cdn_base(self) -> str:
        return f"{self.base_url}/cdn"

    # ------------------------------------------------------------------ patching discord.py

    def _patch_targets(self) -> list[tuple[Any, str, Any]]:
        import discord.asset
        import discord.gateway
        import discord.http
        import yarl

        return [
            # every REST call (incl. interaction callbacks and webhook follow-ups) builds its URL from this
            (discord.http.Route, "BASE", self.api_base),
            # discord.Client does NOT call GET /gateway/bot: it connects straight to this URL
            (discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url)),
            # avatars/icons (Asset.read) -- the fake answers 404
            (discord.asset.Asset, "BASE", self.cdn_base),
        ]

    def patch(self, monkeypatch: Any) -> None:
        """Point discord.py at this fake via pytest's ``monkeypatch`` (undone after the test)."""
        for target, name, value in self._patch_targets():
            monkeypatch.setattr(target, name, value)

    @contextlib.contextmanager
    def patched(self) -> Iterator[FakeDiscord]:
        """Same as :meth:`patch` without pytest: restores the originals on exit."""
        targets = self._patch_targets()
        saved = [(t, n, t.__dict__[n]) for t, n, _ in targets]
        try:
            for target, name, value in targets:
                setattr(target, name, value)
            yield self
        finally:
            for target, name, value in saved:
                setattr(target, name, value)

    # ------------------------------------------------------------------ inspection (test side)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every REST request so far (oldest first)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def unknown_requests(self) -> list[RecordedRequest]:
        """Requests no fake route handled (answered 404 "Unknown route")."""
        return [r for r in self.requests if r.route is None]

    @property
    def events(self) -> list[dict]:
        """Gateway dispatches sent so far: ``{"t", "d", "delivered"}`` (delivered=False: filtered by intents)."""
        with self._lock:
            return copy.deepcopy(self._events)

    @property
    def gateway_received(self) -> list[dict]:
        """Every payload the client sent on the gateway (IDENTIFY, heartbeats, presence updates, ...)."""
        with self._lock:
            return copy.deepcopy(self._gateway_received)

    @property
    def intents(self) -> int | None:
        """Intents of the latest IDENTIFY (None before the client identified)."""
        with self._lock:
            sessions = list(self._sessions.values())
        return sessions[-1].intents if sessions else None

    def _last_seq(self) -> int:
        with self._lock:
            sessions = [s for s in self._sessions.values() if s.ws is not None]
        return max((s.seq for s in sessions), default=0)

    def is_connected(self) -> bool:
        with self._lock:
            return any(s.ws is not None and not s.ws.closed for s in self._sessions.values())

    def wait_until(
        self,
        fn: Callable[[], Any],
        timeout: float = 10.0,
        interval: float = 0.01,
        message: str = "",
    ) -> Any:
        """Poll ``fn()`` until it returns something truthy; return that value (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(message or f"condition not met within {timeout}s: {fn!r}")
            time.sleep(interval)

    def wait_for_request(
        self,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 30.0,
        *,
        method: str | None = None,
        path: str | None = None,
        start: int = 0,
    ) -> RecordedRequest:
        """First recorded request (from index ``start``) matching ``predicate`` and/or ``method`` and
        the ``path`` regex (``re.search`` on the API-relative path). Waits for it to arrive."""

        def matches(r: RecordedRequest) -> bool:
            if method is not None and r.method != method.upper():
                return False
            if path is not None and not re.search(path, r.path):
                return False
            return predicate is None or bool(predicate(r))

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self._requests[start:]:
                    if matches(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n  ".join(f"{r.method} {r.path} -> {r.status}" for r in self._requests)
                    raise TimeoutError(f"no matching request within {timeout}s; seen:\n  {seen}")
                self._cond.wait(left)

    def messages_in(self, channel_id: Any, *, include_ephemeral: bool = True) -> list[dict]:
        """Current message objects in a channel/thread (after edits, without deleted ones), oldest first."""
        with self._lock:
            out = []
            for mid in self._channel_messages.get(str(channel_id), []):
                if mid in self._deleted:
                    continue
                msg = self._messages[mid]
                if not include_ephemeral and msg["flags"] & FLAG_EPHEMERAL:
                    continue
                out.append(copy.deepcopy(msg))
            return out

    def get_message(self, message_id: Any) -> dict | None:
        with self._lock:
            msg = self._messages.get(str(message_id))
            return copy.deepcopy(msg) if msg is not None else None

    def message_history(self, message_id: Any) -> list[dict]:
        """Every version of a message: as created, then after each edit."""
        with self._lock:
            return copy.deepcopy(self._history.get(str(message_id), []))

    def get_channel(self, channel_id: Any) -> dict | None:
        with self._lock:
            ch = self._channels.get(str(channel_id))
            return copy.deepcopy(ch) if ch is not None else None

    def threads_in(self, parent_id: Any) -> list[dict]:
        with self._lock:
            return [
                copy.deepcopy(c)
                for c in self._channels.values()
                if c.get("parent_id") == str(parent_id) and c["type"] in (10, 11, 12)
            ]

    def registered_commands(self, guild_id: Any = None) -> list[dict]:
        """Application commands as registered by the bot (``guild_id=None``: global ones)."""
        with self._lock:
            return copy.deepcopy(
                self._commands.get(None if guild_id is None else str(guild_id), [])
            )

    def interaction(self, interaction: Any) -> dict:
        """State of an interaction: ``{"payload", "acked", "response_type", "callbacks",
        "original_message_id", "followup_ids"}``."""
        iid = self._interaction_id(interaction)
        with self._lock:
            return copy.deepcopy(self._interactions[iid])

    def wait_for_callback(self, interaction: Any, timeout: float = 30.0) -> RecordedRequest:
        """The POST /interactions/{id}/{token}/callback request of an interaction."""
        iid = self._interaction_id(interaction)
        return self.wait_for_request(
            lambda r: (
                r.route == "/interactions/{interaction_id}/{token}/callback"
                and r.path.split("/")[2] == iid
            ),
            timeout,
        )

    def original_response(self, interaction: Any) -> dict | None:
        """The message the interaction's original response created or edited (None if none yet)."""
        state = self.interaction(interaction)
        mid = state["original_message_id"]
        return self.get_message(mid) if mid else None

    def followups(self, interaction: Any) -> list[dict]:
        state = self.interaction(interaction)
        return [
            m for m in (self.get_message(mid) for mid in state["followup_ids"]) if m is not None
        ]

    @staticmethod
    def _interaction_id(interaction: Any) -> str:
        if isinstance(interaction, dict):
            return str(interaction["id"])
        return str(interaction)

    # ------------------------------------------------------------------ failure injection

    def rate_limit_next(
        self,
        method: str,
        path_regex: str,
        retry_after: float = 0.3,
        *,
        is_global: bool = False,
        count: int = 1,
        scope: str = "user",
    ) -> None:
        """The next ``count`` requests matching ``method`` and ``path_regex`` (``re.search`` on the
        API-relative path) answer 429 exactly as Discord does (body, Retry-After, X-RateLimit-*, Via)."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        headers = {
            "Retry-After": str(max(1, int(-(-retry_after // 1)))),
            "X-RateLimit-Scope": "global" if is_global else scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                }
            )
        with self._lock:
            self._injections.append(
                _Injection(method.upper(), re.compile(path_regex), 429, body, headers, count)
            )

    def fail_next(
        self, method: str, path_regex: str, status: int = 500, body: Any = None, *, count: int = 1
    ) -> None:
        """The next ``count`` matching requests answer ``status`` with ``body`` (default: Discord's
        shape for that status, e.g. 403 ``{"message": "Missing Permissions", "code": 50013}``)."""
        if body is None:
            body = {
                400: _error(50035, "Invalid Form Body"),
                401: _error(0, "401: Unauthorized"),
                403: _error(50013, "Missing Permissions"),
                404: _error(10003, "Unknown Channel"),
            }.get(status, _error(0, f"{status}: Internal Server Error"))
        with self._lock:
            self._injections.append(
                _Injection(method.upper(), re.compile(path_regex), status, body, {}, count)
            )

    def _take_injection(self, method: str, path: str) -> _Injection | None:
        with self._lock:
            for inj in self._injections:
                if inj.method == method and inj.pattern.search(path):
                    inj.remaining -= 1
                    if inj.remaining <= 0:
                        self._injections.remove(inj)
                    return inj
        return None

    # ------------------------------------------------------------------ gateway

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._ws_locks[id(ws)] = asyncio.Lock()
        session: _Session | None = None
        try:
            await self._ws_send(
                ws,
                {
                    "op": 10,
                    "s": None,
                    "t": None,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval,
                        "_trace": ['["fake-gateway",{}]'],
                    },
                },
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                with self._lock:
                    self._gateway_received.append(payload)
                op, data = payload.get("op"), payload.get("d")
                if op == 1:  # HEARTBEAT
                    await self._ws_send(ws, {"op": 11, "s": None, "t": None, "d": None})
                elif op == 2:  # IDENTIFY
                    if self.token is not None and data.get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    session = await self._identify(ws, data)
                elif op == 6:  # RESUME
                    session = self._sessions.get((data or {}).get("session_id"))
                    if session is None:
                        await self._ws_send(ws, {"op": 9, "s": None, "t": None, "d": False})
                        continue
                    session.ws = ws
                    await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-gateway"]})
                elif op == 8 and session is not None:  # REQUEST_GUILD_MEMBERS
                    await self._send_member_chunk(session, data or {})
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
            self._ws_locks.pop(id(ws), None)
        return ws

    async def _ws_send(
        self, ws: web.WebSocketResponse, payload: dict, session: _Session | None = None
    ) -> bool:
        """Send one gateway payload (frames never interleave); a DISPATCH gets the session's next ``s``."""
        lock = self._ws_locks.get(id(ws))
        if lock is None or ws.closed:
            return False
        async with lock:
            if session is not None:
                session.seq += 1
                payload["s"] = session.seq
            try:
                await ws.send_str(json.dumps(payload))
            except (ConnectionError, RuntimeError):
                return False
        return True

    async def _identify(self, ws: web.WebSocketResponse, data: dict) -> _Session:
        intents = int(data.get("intents", 0))
        session = _Session(secrets.token_hex(16), intents, data)
        session.ws = ws
        with self._lock:
            self._sessions[session.id] = session
        ready = {
            "v": API_VERSION,
            "user": {
                **copy.deepcopy(self.bot_user),
                "verified": True,
                "mfa_enabled": False,
                "email": None,
                "locale": self.locale,
            },
            "guilds": [{"id": gid, "unavailable": True} for gid in self._guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": self._application_flags()},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "user_settings": {},
            "auth": {},
            "geo_ordered_rtc_regions": ["fake"],
            "_trace": ["fake-gateway"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._send_dispatch(session, "READY", ready)
        if intents & Intents.GUILDS:
            for gid in list(self._guilds):
                await self._send_dispatch(
                    session, "GUILD_CREATE", self._guild_create_payload(intents, gid)
                )
        return session

    def _application_flags(self) -> int:
        # GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE
        return (1 << 19) | (1 << 23)

    def _guild_object(self, guild_id: str | None = None) -> dict:
        guild_id = str(guild_id or self.guild_id)
        g = self._guild(guild_id)
        return {
            "id": guild_id,
            "name": g["name"],
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": g["owner_id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "features": [],
            "system_channel_id": g["system_channel_id"],
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "preferred_locale": self.locale,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "application_id": None,
            "widget_enabled": False,
            "nsfw": False,
            "hub_type": None,
            "incidents_data": None,
            "home_header": None,
            "latest_onboarding_question_id": None,
            "roles": [copy.deepcopy(r) for r in g["roles"].values()],
            "emojis": [],
            "stickers": [],
        }

    def _guild_create_payload(self, intents: int, guild_id: str | None = None) -> dict:
        guild_id = str(guild_id or self.guild_id)
        with self._lock:
            guild = self._guild_object(guild_id)
            all_members = self._guild(guild_id)["members"]
            if intents & Intents.GUILD_PRESENCES:
                members = list(all_members.values())
            else:  # without presences Discord only sends the bot's own member (and voice members)
                members = [all_members[self.bot_id]]
            guild.update(
                {
                    "unavailable": False,
                    "lazy": True,
                    "large": False,
                    "joined_at": self._guild(guild_id)["joined_at"],
                    "member_count": len(all_members),
                    "channels": [
                        copy.deepcopy(c)
                        for c in self._channels.values()
                        if c.get("guild_id") == guild_id and c["type"] not in (10, 11, 12)
                    ],
                    "threads": [
                        copy.deepcopy(c)
                        for c in self._channels.values()
                        if c.get("guild_id") == guild_id
                        and c["type"] in (10, 11, 12)
                        and not c["thread_metadata"]["archived"]
                    ],
                    "members": copy.deepcopy(members),
                    "presences": [],
                    "voice_states": [],
                    "stage_instances": [],
                    "guild_scheduled_events": [],
                    "soundboard_sounds": [],
                    "embedded_activities": [],
                    "activity_instances": [],
                }
            )
            return guild

    async def _send_member_chunk(self, session: _Session, data: dict) -> None:
        guild_id = str(data.get("guild_id") or self.guild_id)
        if guild_id not in self._guilds:
            return
        with self._lock:
            members = list(self._guild(guild_id)["members"].values())
        user_ids = data.get("user_ids")
        if user_ids:
            wanted = {str(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [m for m in members if m["user"]["id"] in wanted]
        query = data.get("query")
        if query:
            members = [
                m for m in members if m["user"]["username"].lower().startswith(query.lower())
            ]
        limit = data.get("limit") or 0
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": guild_id,
            "members": copy.deepcopy(members),
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send_dispatch(self, session: _Session, t: str, d: Any) -> bool:
        ws = session.ws
        if ws is None or ws.closed:
            return False
        return await self._ws_send(ws, {"op": 0, "s": None, "t": t, "d": d}, session)

    def _allowed(self, t: str, d: dict, session: _Session) -> tuple[bool, dict]:
        intents = session.intents
        if t in _GUILD_EVENTS and not intents & Intents.GUILDS:
            return False, d
        if t in _MEMBER_EVENTS and not intents & Intents.GUILD_MEMBERS:
            return False, d
        if t in _MESSAGE_EVENTS:
            in_guild = "guild_id" in d
            if not intents & (Intents.GUILD_MESSAGES if in_guild else Intents.DIRECT_MESSAGES):
                return False, d
            if (
                t in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
                and in_guild
                and not intents & Intents.MESSAGE_CONTENT
                and d.get("author", {}).get("id") != self.bot_id
                and not any(u.get("id") == self.bot_id for u in d.get("mentions", []))
            ):
                # the privileged MESSAGE_CONTENT intent is missing: Discord blanks these fields
                d = {**d, "content": "", "embeds": [], "attachments": [], "components": []}
                d.pop("poll", None)
        return True, d

    async def _dispatch(self, t: str, d: dict) -> bool:
        """Send a DISPATCH to every identified gateway session (subject to its intents)."""
        delivered = False
        for session in list(self._sessions.values()):
            ok, payload = self._allowed(t, d, session)
            if ok:
                delivered = await self._send_dispatch(session, t, payload) or delivered
        with self._lock:
            self._events.append({"t": t, "d": copy.deepcopy(d), "delivered": delivered})
        return delivered

    def dispatch(self, t: str, d: dict) -> bool:
        """Send any raw gateway DISPATCH event (escape hatch). Returns whether a session got it."""
        return self._call(self._dispatch(t, copy.deepcopy(d)))

    def reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs on ``resume_gateway_url``."""

        async def go() -> None:
            for session in list(self._sessions.values()):
                if session.ws is not None and not session.ws.closed:
                    await self._ws_send(session.ws, {"op": 7, "s": None, "t": None, "d": None})

        self._call(go())

    async def _await_session(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(s.ws is not None and not s.ws.closed for s in self._sessions.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("no discord client is connected to the fake gateway")
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ building objects

    def _message_event(self, msg: dict) -> dict:
        """Gateway form of a stored message: REST form + guild_id + the author's partial member."""
        event = copy.deepcopy(msg)
        channel = self._channels.get(msg["channel_id"])
        if channel is not None and channel.get("guild_id"):
            event["guild_id"] = channel["guild_id"]
            members = self._guild(channel["guild_id"])["members"]
            member = members.get(msg["author"]["id"])
            if member is not None and not msg.get("webhook_id"):
                event["member"] = self._partial_member(copy.deepcopy(member))
            for mention in event.get("mentions", []):
                m = members.get(mention["id"])
                if m is not None:
                    mention["member"] = self._partial_member(copy.deepcopy(m))
        return event

    def _mentions_in(self, content: str) -> list[dict]:
        ids = dict.fromkeys(re.findall(r"<@!?(\d+)>", content or ""))
        return [copy.deepcopy(self._users[i]) for i in ids if i in self._users]

    def _new_message(self, channel_id: str, author: dict, content: str = "", **fields: Any) -> dict:
        mid = fields.pop("id", None) or self._snowflake()
        msg = {
            "id": mid,
            "channel_id": channel_id,
            "type": 0,
            "content": content or "",
            "author": copy.deepcopy(author),
            "timestamp": _snowflake_iso(mid),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": self._mentions_in(content),
            "mention_roles": list(dict.fromkeys(re.findall(r"<@&(\d+)>", content or ""))),
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": 0,
        }
        msg.update(fields)
        return msg

    def _store_message(self, msg: dict) -> None:
        with self._lock:
            self._messages[msg["id"]] = msg
            self._channel_messages.setdefault(msg["channel_id"], []).append(msg["id"])
            self._history[msg["id"]] = [copy.deepcopy(msg)]
            channel = self._channels.get(msg["channel_id"])
            if channel is not None and not msg["flags"] & FLAG_EPHEMERAL:
                channel["last_message_id"] = msg["id"]
                if channel["type"] in (10, 11, 12):
                    channel["message_count"] = channel.get("message_count", 0) + 1
                    channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1
                    parent = self._channels.get(channel["parent_id"])
                    if parent is not None and parent["type"] in (15, 16):
                        parent["last_message_id"] = channel["id"]

    def _make_attachment(
        self,
        channel_id: str,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        **extra: Any,
    ) -> dict:
        aid = self._snowflake()
        if content_type is None:
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            if content_type.startswith("text/"):
                content_type += "; charset=utf-8"
        url = f"{self.base_url}/attachments/{channel_id}/{aid}/{filename}"
        with self._lock:
            self._attachment_data[aid] = bytes(data)
        att = {
            "id": aid,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
        att.update(extra)
        return att

    def _attachment_from_spec(self, channel_id: str, spec: Any) -> dict:
        if isinstance(spec, dict):
            if "url" in spec:
                return copy.deepcopy(spec)
            return self._make_attachment(
                channel_id, spec["filename"], spec.get("data", b""), spec.get("content_type")
            )
        filename, data, *rest = spec
        if isinstance(data, str):
            data = data.encode()
        return self._make_attachment(channel_id, filename, data, rest[0] if rest else None)

    def _thread_object(
        self,
        thread_id: str,
        parent_id: str,
        name: str,
        owner_id: str,
        *,
        type_: int = 11,
        auto_archive_duration: int = 1440,
        applied_tags: Iterable[str] = (),
        rate_limit_per_user: int = 0,
        invitable: bool = True,
    ) -> dict:
        now = _iso()
        thread = {
            "id": thread_id,
            "guild_id": self._guild_of(parent_id) or self.guild_id,
            "parent_id": parent_id,
            "owner_id": owner_id,
            "name": name,
            "type": type_,
            "last_message_id": None,
            "message_count": 0,
            "total_message_sent": 0,
            "member_count": 1,
            "rate_limit_per_user": rate_limit_per_user,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "archive_timestamp": now,
                "auto_archive_duration": auto_archive_duration,
                "locked": False,
                "create_timestamp": now,
            },
        }
        if type_ == 12:
            thread["thread_metadata"]["invitable"] = invitable
        parent = self._channels.get(parent_id)
        if parent is not None and parent["type"] in (15, 16):
            thread["applied_tags"] = [str(t) for t in applied_tags]
        return thread

    def _normalize_components(self, components: list) -> list:
        """Echo components as Discord does: each one gets a numeric ``id`` (unique in the message)."""
        components = copy.deepcopy(components or [])
        used = {c["id"] for c in self._walk_components(components) if isinstance(c.get("id"), int)}
        next_id = 1
        for c in self._walk_components(components):
            if c.get("id") is None:
                while next_id in used:
                    next_id += 1
                c["id"] = next_id
                used.add(next_id)
        return components

    @staticmethod
    def _normalize_embeds(embeds: list) -> list:
        out = []
        for e in embeds or []:
            e = copy.deepcopy(e)
            e.setdefault("type", "rich")
            e.setdefault("content_scan_version", 0)
            out.append(e)
        return out

    def _validate_message(self, body: dict, *, files: int, edit: bool) -> None:
        errors: dict = {}
        content = body.get("content")
        if content is not None and len(content) > 2000:
            _put_field_error(
                errors, ["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."
            )
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            _put_field_error(
                errors, ["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."
            )
        total = 0
        limits = {"title": 256, "description": 4096}
        for i, e in enumerate(embeds):
            for key, limit in limits.items():
                value = e.get(key) or ""
                total += len(value)
                if len(value) > limit:
                    _put_field_error(
                        errors,
                        ["embeds", i, key],
                        "BASE_TYPE_MAX_LENGTH",
                        f"Must be {limit} or fewer in length.",
                    )
            fields = e.get("fields") or []
            if len(fields) > 25:
                _put_field_error(
                    errors,
                    ["embeds", i, "fields"],
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                )
            for j, f in enumerate(fields):
                total += len(f.get("name") or "") + len(f.get("value") or "")
                if len(f.get("name") or "") > 256:
                    _put_field_error(
                        errors,
                        ["embeds", i, "fields", j, "name"],
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 256 or fewer in length.",
                    )
                if len(f.get("value") or "") > 1024:
                    _put_field_error(
                        errors,
                        ["embeds", i, "fields", j, "value"],
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 1024 or fewer in length.",
                    )
            footer = (e.get("footer") or {}).get("text") or ""
            total += len(footer)
            if len(footer) > 2048:
                _put_field_error(
                    errors,
                    ["embeds", i, "footer", "text"],
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 2048 or fewer in length.",
                )
        if total > 6000:
            _put_field_error(
                errors,
                ["embeds"],
                "MAX_EMBED_SIZE_EXCEEDED",
                "Embed size exceeds maximum size of 6000",
            )
        components = body.get("components") or []
        flags = int(body.get("flags") or 0)
        seen_ids: set[str] = set()

        def check(c: dict, path: list) -> None:
            cid = c.get("custom_id")
            if cid is not None:
                if len(cid) > 100:
                    _put_field_error(
                        errors,
                        path + ["custom_id"],
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 100 or fewer in length.",
                    )
                if cid in seen_ids:
                    _put_field_error(
                        errors,
                        path + ["custom_id"],
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                seen_ids.add(cid)
            if c.get("type") == 2:
                if len(c.get("label") or "") > 80:
                    _put_field_error(
                        errors,
                        path + ["label"],
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 80 or fewer in length.",
                    )
                if c.get("style") == 5 and not c.get("url"):
                    _put_field_error(
                        errors, path + ["url"], "BASE_TYPE_REQUIRED", "This field is required"
                    )
                if c.get("style") not in (5, 6) and cid is None:
                    _put_field_error(
                        errors, path + ["custom_id"], "BASE_TYPE_REQUIRED", "This field is required"
                    )
            for j, child in enumerate(c.get("components") or []):
                check(child, path + ["components", j])
            if isinstance(c.get("accessory"), dict):
                check(c["accessory"], path + ["accessory"])

        if not flags & FLAG_IS_COMPONENTS_V2:
            if len(components) > 5:
                _put_field_error(
                    errors, ["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."
                )
            for i, row in enumerate(components):
                if row.get("type") != 1:
                    _put_field_error(
                        errors,
                        ["components", i, "type"],
                        "UNION_TYPE_CHOICES",
                        'Value of field "type" must be one of (1,).',
                    )
                elif len(row.get("components") or []) > 5:
                    _put_field_error(
                        errors,
                        ["components", i, "components"],
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 5 or fewer in length.",
                    )
        for i, c in enumerate(components):
            check(c, ["components", i])
        if errors:
            raise _invalid_form(errors)
        if not edit and not (
            body.get("content")
            or embeds
            or components
            or files
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise _Reply(400, _error(50006, "Cannot send an empty message"))

    def _attachments_from_upload(
        self,
        channel_id: str,
        body: dict,
        files: list[dict],
        existing: Iterable[dict] = (),
        ephemeral: bool = False,
    ) -> list | None:
        """Resolve the ``attachments`` array of a create/edit (kept ids + uploaded ``files[n]``)."""
        if "attachments" not in body and not files:
            return None
        by_index = {}
        for f in files:
            m = re.fullmatch(r"files\[(\d+)\]", f["name"] or "")
            if m:
                by_index[m.group(1)] = f
        existing_by_id = {a["id"]: a for a in existing}
        out = []
        entries = body.get("attachments")
        if entries is None:
            entries = [{"id": idx} for idx in by_index]
        for entry in entries:
            key = str(entry.get("id"))
            if key in by_index:
                f = by_index.pop(key)
                extra = {"ephemeral": True} if ephemeral else {}
                if entry.get("description"):
                    extra["description"] = entry["description"]
                out.append(
                    self._make_attachment(
                        channel_id,
                        entry.get("filename") or f["filename"],
                        f["data"],
                        None
                        if f["content_type"] in (None, "application/octet-stream")
                        else f["content_type"],
                        **extra,
                    )
                )
            elif key in existing_by_id:
                out.append(existing_by_id[key])
        return out

    def _bot_message_from_body(
        self, channel_id: str, body: dict, files: list[dict], **fields: Any
    ) -> dict:
        self._validate_message(body, files=len(files), edit=False)
        flags = int(body.get("flags") or 0) & (
            FLAG_SUPPRESS_EMBEDS
            | FLAG_SUPPRESS_NOTIFICATIONS
            | FLAG_EPHEMERAL
            | FLAG_IS_COMPONENTS_V2
        )
        flags |= fields.pop("flags", 0)
        msg = self._new_message(
            channel_id,
            self.bot_user,
            body.get("content") or "",
            embeds=self._normalize_embeds(body.get("embeds")),
            components=self._normalize_components(body.get("components")),
            flags=flags,
            tts=bool(body.get("tts")),
            **fields,
        )
        atts = self._attachments_from_upload(
            channel_id, body, files, ephemeral=bool(flags & FLAG_EPHEMERAL)
        )
        if atts:
            msg["attachments"] = atts
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if body.get("poll"):
            msg["poll"] = body["poll"]
        ref = body.get("message_reference")
        if ref:
            ref_id = str(ref.get("message_id"))
            target = self._messages.get(ref_id)
            if target is None or ref_id in self._deleted:
                if ref.get("fail_if_not_exists", True):
                    raise _invalid_form(
                        {
                            "message_reference": {
                                "_errors": [
                                    {
                                        "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                        "message": "Unknown message",
                                    }
                                ]
                            }
                        }
                    )
            else:
                msg["type"] = 19
                msg["message_reference"] = {
                    "type": ref.get("type", 0),
                    "message_id": ref_id,
                    "channel_id": target["channel_id"],
                    **(
                        {"guild_id": self._guild_of(target["channel_id"])}
                        if self._guild_channel(target["channel_id"])
                        else {}
                    ),
                }
                msg["referenced_message"] = copy.deepcopy(target)
                msg["referenced_message"].pop("referenced_message", None)
        return msg

    def _apply_edit(self, msg: dict, body: dict, files: list[dict]) -> dict:
        merged = {
            "content": body.get("content", msg["content"]),
            "embeds": body.get("embeds", msg["embeds"]),
            "components": body.get("components", msg["components"]),
            "flags": body.get("flags", msg["flags"]),
        }
        self._validate_message(merged, files=len(files), edit=True)
        with self._lock:
            if "content" in body:
                msg["content"] = body["content"] or ""
                msg["mentions"] = self._mentions_in(msg["content"])
            if "embeds" in body:
                msg["embeds"] = self._normalize_embeds(body["embeds"])
            if "components" in body:
                msg["components"] = self._normalize_components(body["components"])
            if "flags" in body and body["flags"] is not None:
                keep = msg["flags"] & (FLAG_EPHEMERAL | FLAG_HAS_THREAD | FLAG_IS_COMPONENTS_V2)
                msg["flags"] = keep | (
                    int(body["flags"]) & (FLAG_SUPPRESS_EMBEDS | FLAG_IS_COMPONENTS_V2)
                )
            atts = self._attachments_from_upload(
                msg["channel_id"],
                body,
                files,
                msg["attachments"],
                ephemeral=bool(msg["flags"] & FLAG_EPHEMERAL),
            )
            if atts is not None:
                msg["attachments"] = atts
            msg["flags"] &= ~FLAG_LOADING
            msg["edited_timestamp"] = _iso()
            self._history[msg["id"]].append(copy.deepcopy(msg))
            return msg

    async def _echo(self, t: str, msg: dict) -> None:
        if msg["flags"] & FLAG_EPHEMERAL:
            return  # ephemeral messages never reach the gateway
        await self._dispatch(t, self._message_event(msg))

    # ------------------------------------------------------------------ test-side actions (users)

    def send_message(
        self,
        channel_id: Any,
        content: str,
        *,
        author: Any = None,
        mentions_bot: bool = False,
        guild: bool = True,
        thread_id: Any = None,
        message_reference: Any = None,
        attachments: Iterable[Any] = (),
        embeds: Iterable[dict] = (),
    ) -> dict:
        """A user posts a message: dispatches MESSAGE_CREATE (the gateway form, also returned).
        ``thread_id``: post in that thread instead of ``channel_id``; ``guild=False``: post in
        the author's DM with the bot; ``attachments``: ``(filename, bytes[, content_type])``
        tuples or attachment dicts (the bytes are served, so ``Attachment.read()`` works);
        ``message_reference``: a message id/dict to reply to."""
        author_user, _ = self._resolve_person(author if author is not None else self.member)
        if not guild:
            channel_id = self._ensure_dm(author_user["id"])["id"]
        target = str(thread_id) if thread_id is not None else str(channel_id)
        return self._call(
            self._user_message(
                target,
                author_user,
                content,
                mentions_bot=mentions_bot,
                message_reference=message_reference,
                attachments=list(attachments),
                embeds=list(embeds),
            )
        )

    def send_dm(self, content: str, *, author: Any = None, attachments: Iterable[Any] = ()) -> dict:
        """A user DMs the bot (MESSAGE_CREATE without guild_id)."""
        return self.send_message(None, content, author=author, guild=False, attachments=attachments)

    async def _user_message(
        self,
        channel_id: str,
        author: dict,
        content: str,
        *,
        mentions_bot: bool = False,
        message_reference: Any = None,
        attachments: list = (),
        embeds: list = (),
        msg_id: str | None = None,
        msg_type: int = 0,
    ) -> dict:
        await self._await_session()
        if channel_id not in self._channels:
            raise ValueError(f"unknown channel {channel_id}")
        if mentions_bot:
            content = f"<@{self.bot_id}> {content}"
        fields: dict[str, Any] = {"type": msg_type}
        if msg_id:
            fields["id"] = msg_id
        msg = self._new_message(
            channel_id, author, content, embeds=self._normalize_embeds(list(embeds)), **fields
        )
        msg["attachments"] = [self._attachment_from_spec(channel_id, a) for a in attachments]
        if message_reference is not None:
            ref_id = str(
                message_reference["id"]
                if isinstance(message_reference, dict)
                else message_reference
            )
            target = self._messages.get(ref_id)
            msg["type"] = 19
            msg["message_reference"] = {
                "type": 0,
                "message_id": ref_id,
                "channel_id": target["channel_id"] if target else channel_id,
            }
            if self._guild_channel(channel_id):
                msg["message_reference"]["guild_id"] = self._guild_of(channel_id)
            msg["referenced_message"] = copy.deepcopy(target) if target else None
            if target and target["author"]["id"] not in {u["id"] for u in msg["mentions"]}:
                msg["mentions"].append(copy.deepcopy(target["author"]))  # replies ping by default
        self._store_message(msg)
        event = self._message_event(msg)
        await self._dispatch("MESSAGE_CREATE", event)
        return copy.deepcopy(event)

    def create_thread(
        self,
        parent_id: Any,
        name: str,
        *,
        owner_id: Any = None,
        starter_content: str | None = None,
        forum: bool | None = None,
        applied_tags: Iterable[str] = (),
        attachments: Iterable[Any] = (),
    ) -> dict:
        """A user opens a thread. In a forum (type 15, or ``forum=True``) this is a forum post:
        THREAD_CREATE (``newly_created``) then MESSAGE_CREATE of the starter message whose id is
        the thread id. In a text channel with ``starter_content`` the user first posts that
        message and starts the thread from it (thread id == message id). Returns the thread."""
        owner_user, _ = self._resolve_person(owner_id if owner_id is not None else self.member)
        parent_id = str(parent_id)
        with self._lock:
            parent = self._channels.get(parent_id)
            if parent is None:
                raise ValueError(f"unknown channel {parent_id}")
            is_forum = parent["type"] in (15, 16) if forum is None else forum
        return self._call(
            self._user_thread(
                parent_id,
                name,
                owner_user,
                starter_content,
                is_forum,
                list(applied_tags),
                list(attachments),
            )
        )

    async def _user_thread(
        self,
        parent_id: str,
        name: str,
        owner: dict,
        starter: str | None,
        forum: bool,
        applied_tags: list,
        attachments: list,
    ) -> dict:
        await self._await_session()
        parent = self._channels[parent_id]
        if forum:
            tid = self._snowflake()
            thread = self._thread_object(
                tid,
                parent_id,
                name,
                owner["id"],
                auto_archive_duration=parent.get("default_auto_archive_duration", 4320),
                applied_tags=applied_tags,
            )
            with self._lock:
                self._channels[tid] = thread
            await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
            await self._user_message(tid, owner, starter or "", msg_id=tid, attachments=attachments)
        else:
            tid = None
            if starter is not None:
                tid = (
                    await self._user_message(parent_id, owner, starter, attachments=attachments)
                )["id"]
            tid = tid or self._snowflake()
            thread = self._thread_object(tid, parent_id, name, owner["id"])
            with self._lock:
                self._channels[tid] = thread
                if tid in self._messages:
                    self._messages[tid]["thread"] = copy.deepcopy(thread)
                    self._messages[tid]["flags"] |= FLAG_HAS_THREAD
            await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        with self._lock:
            return copy.deepcopy(self._channels[tid])

    def _interaction_payload(
        self,
        itype: int,
        data: dict,
        *,
        user: Any,
        channel_id: str | None,
        message: dict | None = None,
        dm: bool = False,
    ) -> dict:
        guild_id = self._guild_of(channel_id or self.text_channel_id) or self.guild_id
        user_obj, member = self._resolve_person(user if user is not None else self.member, guild_id)
        iid = self._snowflake()
        token = "aW50ZXJhY3Rpb246" + iid + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": iid,
            "application_id": self.application_id,
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": self.locale,
            "app_permissions": str(self.permissions_of(self.bot_id)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if dm or member is None:
            channel = self._ensure_dm(user_obj["id"])
            payload.update(
                {
                    "context": 1,
                    "user": copy.deepcopy(user_obj),
                    "channel_id": channel["id"],
                    "channel": copy.deepcopy(channel),
                    "authorizing_integration_owners": {"0": "0"},
                }
            )
        else:
            channel_id = str(channel_id or self.text_channel_id)
            channel = self._channels.get(channel_id)
            if channel is None:
                raise ValueError(f"unknown channel {channel_id}")
            perms = str(self.permissions_of(user_obj["id"], guild_id))
            payload.update(
                {
                    "context": 0,
                    "guild_id": guild_id,
                    "guild_locale": self.locale,
                    "guild": {"id": guild_id, "locale": self.locale, "features": []},
                    "channel_id": channel_id,
                    "channel": {**copy.deepcopy(channel), "permissions": perms},
                    "member": {**copy.deepcopy(member), "permissions": perms},
                    "authorizing_integration_owners": {"0": guild_id},
                }
            )
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        with self._lock:
            self._interactions[iid] = {
                "payload": copy.deepcopy(payload),
                "acked": False,
                "response_type": None,
                "callbacks": [],
                "original_message_id": None,
                "followup_ids": [],
            }
        return payload

    async def _send_interaction(self, payload: dict) -> dict:
        await self._await_session()
        await self._dispatch("INTERACTION_CREATE", payload)
        return copy.deepcopy(payload)

    @staticmethod
    def _walk_components(components: list) -> Iterator[dict]:
        for c in components or []:
            yield c
            yield from FakeDiscord._walk_components(c.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(c.get(key), dict):
                    yield from FakeDiscord._walk_components([c[key]])

    def click_button(
        self,
        message_id: Any,
        custom_id: str,
        *,
        user: Any = None,
        channel_id: Any = None,
        component_type: int = 2,
        values: list | None = None,
    ) -> dict:
        """A user clicks a button (or picks ``values`` in a select with ``component_type=3``) on a
        message the fake knows: INTERACTION_CREATE type 3 carrying that message (with its current
        components). Raises ValueError for a missing or disabled component, as the client UI can't
        click those. Returns the interaction payload (``["id"]``, ``["token"]``)."""
        with self._lock:
            msg = self._messages.get(str(message_id))
            if msg is None or str(message_id) in self._deleted:
                raise ValueError(f"unknown message {message_id}")
            comp = next(
                (
                    c
                    for c in self._walk_components(msg["components"])
                    if c.get("custom_id") == custom_id
                ),
                None,
            )
            if comp is None:
                raise ValueError(
                    f"message {message_id} has no component with custom_id {custom_id!r}; it has "
                    f"{[c.get('custom_id') for c in self._walk_components(msg['components'])]}"
                )
            if comp.get("disabled"):
                raise ValueError(f"component {custom_id!r} is disabled")
            data: dict[str, Any] = {
                "custom_id": custom_id,
                "component_type": component_type,
                "id": comp.get("id"),
            }
            if values is not None or component_type != 2:
                data["values"] = list(values or [])
            is_dm = self._channels.get(msg["channel_id"], {}).get("type") == 1
            payload = self._interaction_payload(
                3,
                data,
                user=user,
                channel_id=channel_id or msg["channel_id"],
                message=msg,
                dm=is_dm,
            )
        return self._call(self._send_interaction(payload))

    def _lookup_command(
        self, name: str, ctype: int, guild_command: bool | None, guild_id: str | None = None
    ) -> tuple[str, bool]:
        guild_id = guild_id or self.guild_id
        with self._lock:
            if guild_command is not False:
                for cmd in self._commands.get(guild_id, []):
                    if cmd["name"] == name and cmd.get("type", 1) == ctype:
                        return cmd["id"], True
            if guild_command is not True:
                for cmd in self._commands.get(None, []):
                    if cmd["name"] == name and cmd.get("type", 1) == ctype:
                        return cmd["id"], False
            key = (guild_id if guild_command else None, ctype, name)
            if key not in self._command_ids:
                self._command_ids[key] = self._snowflake()
            return self._command_ids[key], bool(guild_command)

    def run_command(
        self,
        name: str,
        options: list | None = None,
        *,
        user: Any = None,
        channel_id: Any = None,
        attachments: dict | None = None,
        guild_command: bool | None = None,
        dm: bool = False,
    ) -> dict:
        """A user runs slash command ``/name`` (INTERACTION_CREATE type 2). ``options`` is Discord's
        option tree, e.g. ``[{"type": 1, "name": "status", "options": []}]`` for a subcommand.
        ``attachments={"file": ("faq.pdf", b"...")}`` adds type-11 options (in the innermost
        subcommand) with ``data.resolved.attachments``. The command id and ``data.guild_id`` come
        from what the bot registered (guild commands win, as in Discord); if it never synced, an
        id is made up and the command is sent as global unless ``guild_command=True``. The guild
        is the channel's (``channel_id`` in another guild: run there). User/channel/role options
        (types 6/7/8) get their ``resolved`` data filled in.
        Returns the interaction payload."""
        options = copy.deepcopy(options or [])
        guild_id = None if dm else self._guild_of(channel_id or self.text_channel_id)
        cmd_id, is_guild_cmd = self._lookup_command(name, 1, guild_command, guild_id)
        channel_for_atts = str(channel_id or self.text_channel_id)
        resolved: dict[str, dict] = {}
        innermost = options
        while innermost and innermost[0].get("type") in (1, 2):
            innermost = innermost[0].setdefault("options", [])
        for opt_name, spec in (attachments or {}).items():
            att = self._attachment_from_spec(channel_for_atts, spec)
            att.setdefault("ephemeral", True)
            resolved.setdefault("attachments", {})[att["id"]] = att
            existing = next((o for o in innermost if o.get("name") == opt_name), None)
            if existing is None:
                innermost.append({"type": 11, "name": opt_name, "value": att["id"]})
            else:
                existing.update({"type": 11, "value": att["id"]})
        self._resolve_options(options, resolved, guild_id)
        data: dict[str, Any] = {"id": cmd_id, "name": name, "type": 1, "options": options}
        if resolved:
            data["resolved"] = resolved
        if is_guild_cmd:
            data["guild_id"] = guild_id or self.guild_id
        payload = self._interaction_payload(2, data, user=user, channel_id=channel_id, dm=dm)
        return self._call(self._send_interaction(payload))

    def _resolve_options(self, options: list, resolved: dict, guild_id: str | None = None) -> None:
        with self._lock:
            guild = self._guild(guild_id)
            for opt in options:
                t, value = opt.get("type"), opt.get("value")
                if t in (1, 2):
                    self._resolve_options(opt.get("options") or [], resolved, guild_id)
                elif t in (6, 9) and str(value) in self._users:
                    uid = str(value)
                    opt["value"] = uid
                    resolved.setdefault("users", {})[uid] = copy.deepcopy(self._users[uid])
                    if uid in guild["members"]:
                        m = self._partial_member(copy.deepcopy(guild["members"][uid]))
                        m["permissions"] = str(self.permissions_of(uid, guild_id))
                        resolved.setdefault("members", {})[uid] = m
                elif t in (7, 9) and str(value) in self._channels:
                    ch = self._channels[str(value)]
                    opt["value"] = ch["id"]
                    resolved.setdefault("channels", {})[ch["id"]] = {
                        **{
                            k: ch[k]
                            for k in ("id", "type", "name", "parent_id", "thread_metadata")
                            if k in ch
                        },
                        "permissions": str(Perm.ALL),
                    }
                elif t in (8, 9) and str(value) in guild["roles"]:
                    opt["value"] = str(value)
                    resolved.setdefault("roles", {})[str(value)] = copy.deepcopy(
                        guild["roles"][str(value)]
                    )

    def submit_modal(
        self, custom_id: str, values: dict[str, Any], *, user: Any = None, channel_id: Any = None
    ) -> dict:
        """A user submits the modal the bot opened (callback type 9) with ``custom_id``; ``values``
        maps text-input (or select) custom_ids to values. Returns the interaction payload."""
        with self._lock:
            modal = self._modals.get(custom_id)
            if modal is None:
                raise ValueError(f"the bot never opened a modal with custom_id {custom_id!r}")
            origin = self._interactions[modal["interaction_id"]]["payload"]
        remaining = dict(values)

        def submit(c: dict) -> dict:
            t = c.get("type")
            if t == 1:
                return {
                    "type": 1,
                    "id": c.get("id"),
                    "components": [submit(x) for x in c.get("components", [])],
                }
            if t == 18:
                return {"type": 18, "id": c.get("id"), "component": submit(c["component"])}
            out = {"type": t, "id": c.get("id")}
            cid = c.get("custom_id")
            if cid is not None:
                out["custom_id"] = cid
                if t == 4:
                    value = remaining.pop(cid, c.get("value") or "")
                    if c.get("required", True) and not value:
                        raise ValueError(f"text input {cid!r} is required")
                    out["value"] = value
                elif t in (3, 5, 6, 7, 8):
                    out["values"] = list(remaining.pop(cid, []))
            return out

        components = [
            submit(c) for c in self._normalize_components(modal["data"].get("components", []))
        ]
        if remaining:
            raise ValueError(f"modal {custom_id!r} has no inputs {sorted(remaining)}")
        origin_user = origin.get("member") or origin.get("user")
        with self._lock:
            message = None
            if origin.get("message"):
                message = self._messages.get(origin["message"]["id"], origin["message"])
            payload = self._interaction_payload(
                5,
                {"custom_id": custom_id, "components": components},
                user=user if user is not None else origin_user,
                channel_id=channel_id or origin.get("channel_id"),
                message=message,
                dm="guild_id" not in origin,
            )
        return self._call(self._send_interaction(payload))

    # ------------------------------------------------------------------ HTTP plumbing

    async def _attachment_handler(self, request: web.Request) -> web.StreamResponse:
        data = self._attachment_data.get(request.match_info["attachment_id"])
        if data is None:
            return web.Response(status=404, text="Not Found")
        ctype = (
            mimetypes.guess_type(request.match_info["filename"])[0] or "application/octet-stream"
        )
        return web.Response(body=data, content_type=ctype)

    async def _cdn_handler(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            status=404,
            body=json.dumps(_error(0, "404: Not Found")).encode(),
            headers={"Content-Type": "application/json"},
        )

    def _routes(self) -> list[tuple[str, str, Callable]]:
        cid, mid = r"(?P<channel_id>\d+)", r"(?P<message_id>\d+)"
        app, tok = r"(?P<app_id>\d+)", r"(?P<token>[^/]+)"
        return [
            ("GET", r"/gateway/bot", self._r_gateway_bot),
            ("GET", r"/gateway", self._r_gateway),
            ("GET", r"/users/@me", self._r_me),
            ("PATCH", r"/users/@me", self._r_me),
            ("GET", r"/users/(?P<user_id>\d+)", self._r_user),
            ("POST", r"/users/@me/channels", self._r_create_dm),
            ("GET", r"/oauth2/applications/@me", self._r_application),
            ("GET", r"/applications/@me", self._r_application),
            ("GET", rf"/channels/{cid}", self._r_get_channel),
            ("PATCH", rf"/channels/{cid}", self._r_edit_channel),
            ("DELETE", rf"/channels/{cid}", self._r_delete_channel),
            ("POST", rf"/channels/{cid}/typing", self._r_no_content),
            ("GET", rf"/channels/{cid}/messages", self._r_history),
            ("POST", rf"/channels/{cid}/messages", self._r_create_message),
            ("POST", rf"/channels/{cid}/messages/bulk-delete", self._r_bulk_delete),
            ("GET", rf"/channels/{cid}/messages/{mid}", self._r_get_message),
            ("PATCH", rf"/channels/{cid}/messages/{mid}", self._r_edit_message),
            ("DELETE", rf"/channels/{cid}/messages/{mid}", self._r_delete_message),
            (
                "PUT",
                rf"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)/@me",
                self._r_reaction,
            ),
            (
                "DELETE",
                rf"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)/(?P<user_id>@me|\d+)",
                self._r_reaction,
            ),
            (
                "DELETE",
                rf"/channels/{cid}/messages/{mid}/reactions(?:/(?P<emoji>[^/]+))?",
                self._r_reaction,
            ),
            ("POST", rf"/channels/{cid}/messages/{mid}/threads", self._r_thread_from_message),
            ("POST", rf"/channels/{cid}/threads", self._r_thread_without_message),
            (
                "GET",
                rf"/channels/{cid}/thread-members(?:/(?P<user_id>@me|\d+))?",
                self._r_thread_members,
            ),
            ("PUT", rf"/channels/{cid}/thread-members/(?P<user_id>@me|\d+)", self._r_no_content),
            ("DELETE", rf"/channels/{cid}/thread-members/(?P<user_id>@me|\d+)", self._r_no_content),
            ("PUT", rf"/channels/{cid}/(?:messages/)?pins/{mid}", self._r_pin),
            ("DELETE", rf"/channels/{cid}/(?:messages/)?pins/{mid}", self._r_pin),
            ("GET", r"/guilds/(?P<guild_id>\d+)", self._r_guild),
            ("GET", r"/guilds/(?P<guild_id>\d+)/channels", self._r_guild_channels),
            ("GET", r"/guilds/(?P<guild_id>\d+)/roles", self._r_guild_roles),
            ("GET", r"/guilds/(?P<guild_id>\d+)/members", self._r_guild_members),
            ("GET", r"/guilds/(?P<guild_id>\d+)/members/(?P<user_id>\d+)", self._r_guild_member),
            ("GET", r"/guilds/(?P<guild_id>\d+)/threads/active", self._r_active_threads),
            (
                "POST",
                r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
                self._r_callback,
            ),
            ("POST", rf"/webhooks/{app}/{tok}", self._r_followup),
            (
                "GET",
                rf"/webhooks/{app}/{tok}/messages/(?P<message_id>@original|\d+)",
                self._r_webhook_message,
            ),
            (
                "PATCH",
                rf"/webhooks/{app}/{tok}/messages/(?P<message_id>@original|\d+)",
                self._r_webhook_message,
            ),
            (
                "DELETE",
                rf"/webhooks/{app}/{tok}/messages/(?P<message_id>@original|\d+)",
                self._r_webhook_message,
            ),
            (
                "GET",
                rf"/applications/{app}(?:/guilds/(?P<guild_id>\d+))?/commands",
                self._r_commands,
            ),
            (
                "PUT",
                rf"/applications/{app}(?:/guilds/(?P<guild_id>\d+))?/commands",
                self._r_commands,
            ),
            (
                "POST",
                rf"/applications/{app}(?:/guilds/(?P<guild_id>\d+))?/commands",
                self._r_commands,
            ),
            (
                "GET",
                rf"/applications/{app}(?:/guilds/(?P<guild_id>\d+))?/commands/(?P<command_id>\d+)",
                self._r_command,
            ),
            (
                "PATCH",
                rf"/applications/{app}(?:/guilds/(?P<guild_id>\d+))?/commands/(?P<command_id>\d+)",
                self._r_command,
            ),
            (
                "DELETE",
                rf"/applications/{app}(?:/guilds/(?P<guild_id>\d+))?/commands/(?P<command_id>\d+)",
                self._r_command,
            ),
        ]

    @staticmethod
    def _template(path: str, match: re.Match) -> str:
        """The route template of a matched path, e.g. ``/channels/{channel_id}/messages``."""
        spans = sorted(
            (match.span(name), name)
            for name, value in match.groupdict().items()
            if value is not None
        )
        out, pos = [], 0
        for (start, end), name in spans:
            out.append(path[pos:start] + "{" + name + "}")
            pos = end
        return "".join(out) + path[pos:]

    def _ratelimit_headers(self, route_key: str) -> dict[str, str]:
        bucket = hashlib.md5(route_key.encode()).hexdigest()
        return {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": bucket,
            "Via": "1.1 google",
        }

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict]]:
        files: list[dict] = []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            async for part in reader:
                data = await part.read(decode=False)
                if part.name == "payload_json":
                    body = json.loads(data)
                else:
                    files.append(
                        {
                            "name": part.name,
                            "filename": part.filename,
                            "content_type": part.headers.get("Content-Type"),
                            "data": bytes(data),
                        }
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode("utf-8", "replace"), files

    async def _api_handler(self, request: web.Request) -> web.StreamResponse:
        method = request.method.upper()
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        rec = RecordedRequest(
            method=method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            files=files,
            time=time.time(),
        )
        headers: dict[str, str] = {}
        status, response = 404, _error(0, "Unknown route")
        route_match = None
        path_known = False
        for r_method, pattern, func in self._routes():
            m = re.fullmatch(pattern, path)
            if m:
                path_known = True
                if r_method == method:
                    route_match = (
                        pattern,
                        func,
                        {k: v for k, v in m.groupdict().items() if v is not None},
                    )
                    rec.route = self._template(path, m)
                    break
        if route_match is not None:
            headers = self._ratelimit_headers(f"{method} {rec.route}")
        injection = self._take_injection(method, path)
        if injection is not None:
            status, response = injection.status, copy.deepcopy(injection.body)
            headers = {**headers, **injection.headers, "Via": "1.1 google"}
            if injection.status == 429 and "X-RateLimit-Bucket" not in headers:
                headers["X-RateLimit-Bucket"] = hashlib.md5(
                    f"{method} {rec.route}".encode()
                ).hexdigest()
        elif route_match is None and path_known:
            status, response = 405, _error(0, "405: Method Not Allowed")
        elif route_match is not None:
            pattern, func, params = route_match
            is_webhook = path.startswith(("/interactions/", "/webhooks/"))
            auth = request.headers.get("Authorization", "")
            if not is_webhook and (
                not auth.startswith("Bot ")
                or (self.token is not None and auth != f"Bot {self.token}")
            ):
                status, response = 401, _error(0, "401: Unauthorized")
            else:
                try:
                    status, response = await func(rec, **params)
                except _Reply as reply:
                    status, response = reply.status, reply.body
        rec.status, rec.response = status, copy.deepcopy(response)
        if response is None:
            reply = web.Response(status=status, headers=headers)
        else:
            # exactly "application/json" (no charset), as Discord sends: discord.py compares it verbatim
            reply = web.Response(
                status=status,
                body=json.dumps(response).encode(),
                headers={**headers, "Content-Type": "application/json"},
            )
        try:
            # send the answer before recording, so a waiter never sees a request whose reply is unsent
            await reply.prepare(request)
            await reply.write_eof()
        finally:
            with self._cond:
                self._requests.append(rec)
                self._cond.notify_all()
        return reply

    # ------------------------------------------------------------------ REST routes

    async def _r_no_content(self, rec: RecordedRequest, **kw: Any) -> tuple[int, Any]:
        if "channel_id" in kw:
            self._channel_or_404(kw["channel_id"])
        return 204, None

    async def _r_gateway_bot(self, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14400000,
                "max_concurrency": 1,
            },
        }

    async def _r_gateway(self, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _r_me(self, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {
            **copy.deepcopy(self.bot_user),
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": self.locale,
        }

    async def _r_user(self, rec: RecordedRequest, user_id: str) -> tuple[int, Any]:
        user = self._users.get(user_id)
        if user is None:
            raise _Reply(404, _error(10013, "Unknown User"))
        return 200, copy.deepcopy(user)

    async def _r_application(self, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {
            "id": self.application_id,
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": hashlib.sha256(self.application_id.encode()).hexdigest(),
            "flags": self._application_flags(),
            "owner": copy.deepcopy(self._users[self.owner_id]),
            "team": None,
            "bot": copy.deepcopy(self.bot_user),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "install_params": None,
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(self._guilds),
            "is_monetized": False,
        }

    async def _r_create_dm(self, rec: RecordedRequest) -> tuple[int, Any]:
        uid = str((rec.json or {}).get("recipient_id"))
        if uid not in self._users:
            raise _Reply(404, _error(10013, "Unknown User"))
        return 200, copy.deepcopy(self._ensure_dm(uid))

    def _channel_or_404(self, channel_id: str) -> dict:
        ch = self._channels.get(str(channel_id))
        if ch is None:
            raise _Reply(404, _error(10003, "Unknown Channel"))
        return ch

    def _message_or_404(self, channel_id: str, message_id: str) -> dict:
        self._channel_or_404(channel_id)
        msg = self._messages.get(message_id)
        if msg is None or msg["channel_id"] != channel_id or message_id in self._deleted:
            raise _Reply(404, _error(10008, "Unknown Message"))
        return msg

    async def _r_get_channel(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._channel_or_404(channel_id))

    async def _r_edit_channel(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        ch = self._channel_or_404(channel_id)
        body = rec.json or {}
        with self._lock:
            if ch["type"] in (10, 11, 12):
                meta = ch["thread_metadata"]
                for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                    if key in body:
                        meta[key] = body[key]
                if "archived" in body:
                    meta["archive_timestamp"] = _iso()
                if "applied_tags" in body:
                    ch["applied_tags"] = [str(t) for t in body["applied_tags"]]
                for key in ("name", "rate_limit_per_user", "flags"):
                    if key in body:
                        ch[key] = body[key]
                event = "THREAD_UPDATE"
            else:
                for key in (
                    "name",
                    "topic",
                    "nsfw",
                    "rate_limit_per_user",
                    "position",
                    "parent_id",
                    "available_tags",
                    "default_auto_archive_duration",
                    "flags",
                ):
                    if key in body:
                        ch[key] = body[key]
                event = "CHANNEL_UPDATE"
            result = copy.deepcopy(ch)
        await self._dispatch(event, copy.deepcopy(result))
        return 200, result

    async def _r_delete_channel(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        ch = self._channel_or_404(channel_id)
        with self._lock:
            self._channels.pop(channel_id)
        if ch["type"] in (10, 11, 12):
            await self._dispatch(
                "THREAD_DELETE", {k: ch[k] for k in ("id", "guild_id", "parent_id", "type")}
            )
        else:
            await self._dispatch("CHANNEL_DELETE", copy.deepcopy(ch))
        return 200, copy.deepcopy(ch)

    async def _r_history(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        self._channel_or_404(channel_id)
        limit = int(rec.query.get("limit", 50))
        msgs = [m for m in self.messages_in(channel_id, include_ephemeral=False)]
        if "before" in rec.query:
            msgs = [m for m in msgs if int(m["id"]) < int(rec.query["before"])]
        if "after" in rec.query:
            msgs = [m for m in msgs if int(m["id"]) > int(rec.query["after"])]
            return 200, list(reversed(msgs[:limit]))
        return 200, list(reversed(msgs))[:limit]

    async def _r_create_message(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        ch = self._channel_or_404(channel_id)
        if ch["type"] in (4, 15, 16):
            raise _Reply(400, _error(50008, "Cannot send messages in a non-text channel"))
        if ch["type"] in (10, 11, 12) and ch["thread_metadata"]["locked"]:
            raise _Reply(403, _error(50083, "Thread is archived"))
        body = rec.json or {}
        msg = self._bot_message_from_body(channel_id, body, rec.files)
        if ch["type"] in (10, 11, 12) and ch["thread_metadata"]["archived"]:
            ch["thread_metadata"]["archived"] = (
                False  # sending in an archived (unlocked) thread unarchives it
            )
        self._store_message(msg)
        await self._echo("MESSAGE_CREATE", msg)
        return 200, copy.deepcopy(msg)

    async def _r_get_message(
        self, rec: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        msg = self._message_or_404(channel_id, message_id)
        if msg["flags"] & FLAG_EPHEMERAL:
            raise _Reply(404, _error(10008, "Unknown Message"))
        return 200, copy.deepcopy(msg)

    async def _r_edit_message(
        self, rec: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        msg = self._message_or_404(channel_id, message_id)
        body = rec.json or {}
        if msg["author"]["id"] != self.bot_id and set(body) - {"flags"}:
            raise _Reply(403, _error(50005, "Cannot edit a message authored by another user"))
        self._apply_edit(msg, body, rec.files)
        await self._echo("MESSAGE_UPDATE", msg)
        return 200, copy.deepcopy(msg)

    async def _delete(self, msg: dict) -> None:
        with self._lock:
            self._deleted.add(msg["id"])
        if not msg["flags"] & FLAG_EPHEMERAL:
            d = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if self._guild_channel(msg["channel_id"]):
                d["guild_id"] = self._guild_of(msg["channel_id"])
            await self._dispatch("MESSAGE_DELETE", d)

    async def _r_delete_message(
        self, rec: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        msg = self._message_or_404(channel_id, message_id)
        await self._delete(msg)
        return 204, None

    async def _r_bulk_delete(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        ids = [str(i) for i in (rec.json or {}).get("messages", [])]
        for mid in ids:
            msg = self._messages.get(mid)
            if msg is not None and msg["channel_id"] == channel_id and mid not in self._deleted:
                await self._delete(msg)
        return 204, None

    async def _r_reaction(
        self,
        rec: RecordedRequest,
        channel_id: str,
        message_id: str,
        emoji: str = "",
        user_id: str = "@me",
    ) -> tuple[int, Any]:
        msg = self._message_or_404(channel_id, message_id)
        with self._lock:
            reactions = msg.setdefault("reactions", [])
            if rec.method == "PUT":
                existing = next((r for r in reactions if r["emoji"]["name"] == emoji), None)
                if existing is None:
                    reactions.append(
                        {
                            "count": 1,
                            "count_details": {"burst": 0, "normal": 1},
                            "me": True,
                            "me_burst": False,
                            "burst_colors": [],
                            "emoji": {"id": None, "name": emoji},
                        }
                    )
                elif not existing["me"]:
                    existing["me"] = True
                    existing["count"] += 1
            else:
                msg["reactions"] = [r for r in reactions if emoji and r["emoji"]["name"] != emoji]
        return 204, None

    async def _r_pin(
        self, rec: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        msg = self._message_or_404(channel_id, message_id)
        msg["pinned"] = rec.method == "PUT"
        return 204, None

    async def _r_thread_from_message(
        self, rec: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        parent = self._channel_or_404(channel_id)
        msg = self._message_or_404(channel_id, message_id)
        if parent["type"] not in (0, 5):
            raise _Reply(400, _error(50024, "Cannot execute action on this channel type"))
        if message_id in self._channels:
            raise _Reply(400, _error(160004, "A thread has already been created for this message"))
        body = rec.json or {}
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise _invalid_form(
                {
                    "name": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_BAD_LENGTH",
                                "message": "Must be between 1 and 100 in length.",
                            }
                        ]
                    }
                }
            )
        thread = self._thread_object(
            message_id,
            channel_id,
            name,
            self.bot_id,
            auto_archive_duration=body.get("auto_archive_duration") or 1440,
            rate_limit_per_user=body.get("rate_limit_per_user") or 0,
        )
        thread["member"] = {
            "id": message_id,
            "user_id": self.bot_id,
            "join_timestamp": _iso(),
            "flags": 1,
        }
        with self._lock:
            self._channels[message_id] = thread
            msg["thread"] = copy.deepcopy(thread)
            msg["flags"] |= FLAG_HAS_THREAD
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return 201, copy.deepcopy(thread)

    async def _r_thread_without_message(
        self, rec: RecordedRequest, channel_id: str
    ) -> tuple[int, Any]:
        parent = self._channel_or_404(channel_id)
        body = rec.json or {}
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise _invalid_form(
                {
                    "name": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_BAD_LENGTH",
                                "message": "Must be between 1 and 100 in length.",
                            }
                        ]
                    }
                }
            )
        tid = self._snowflake()
        if parent["type"] in (15, 16):
            if "message" not in body:
                raise _invalid_form(
                    {
                        "message": {
                            "_errors": [
                                {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
                            ]
                        }
                    }
                )
            known_tags = {t["id"] for t in parent.get("available_tags", [])}
            tags = [str(t) for t in body.get("applied_tags") or []]
            if any(t not in known_tags for t in tags):
                raise _invalid_form(
                    {
                        "applied_tags": {
                            "_errors": [{"code": "BASE_TYPE_CHOICES", "message": "Unknown tag"}]
                        }
                    }
                )
            thread = self._thread_object(
                tid,
                channel_id,
                name,
                self.bot_id,
                applied_tags=tags,
                auto_archive_duration=body.get("auto_archive_duration")
                or parent.get("default_auto_archive_duration", 4320),
            )
            msg = self._bot_message_from_body(tid, body["message"], rec.files, id=tid)
            with self._lock:
                self._channels[tid] = thread
            self._store_message(msg)
            await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
            await self._echo("MESSAGE_CREATE", msg)
            with self._lock:
                result = {**copy.deepcopy(self._channels[tid]), "message": copy.deepcopy(msg)}
            return 201, result
        if parent["type"] not in (0, 5):
            raise _Reply(400, _error(50024, "Cannot execute action on this channel type"))
        thread = self._thread_object(
            tid,
            channel_id,
            name,
            self.bot_id,
            type_=int(body.get("type") or 12),
            auto_archive_duration=body.get("auto_archive_duration") or 1440,
            invitable=body.get("invitable", True),
        )
        with self._lock:
            self._channels[tid] = thread
        await self._dispatch("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return 201, copy.deepcopy(thread)

    async def _r_thread_members(
        self, rec: RecordedRequest, channel_id: str, user_id: str | None = None
    ):
        self._channel_or_404(channel_id)
        member = {
            "id": channel_id,
            "user_id": self.bot_id if user_id in (None, "@me") else user_id,
            "join_timestamp": _iso(),
            "flags": 1,
        }
        return 200, (member if user_id else [member])

    def _check_guild(self, guild_id: str) -> dict:
        if guild_id not in self._guilds:
            raise _Reply(404, _error(10004, "Unknown Guild"))
        return self._guilds[guild_id]

    async def _r_guild(self, rec: RecordedRequest, guild_id: str) -> tuple[int, Any]:
        members = self._check_guild(guild_id)["members"]
        guild = self._guild_object(guild_id)
        if rec.query.get("with_counts") in ("true", "1"):
            guild.update(
                {"approximate_member_count": len(members), "approximate_presence_count": 0}
            )
        return 200, guild

    async def _r_guild_channels(self, rec: RecordedRequest, guild_id: str) -> tuple[int, Any]:
        self._check_guild(guild_id)
        return 200, [
            copy.deepcopy(c)
            for c in self._channels.values()
            if c.get("guild_id") == guild_id and c["type"] not in (10, 11, 12)
        ]

    async def _r_guild_roles(self, rec: RecordedRequest, guild_id: str) -> tuple[int, Any]:
        return 200, [copy.deepcopy(r) for r in self._check_guild(guild_id)["roles"].values()]

    async def _r_guild_members(self, rec: RecordedRequest, guild_id: str) -> tuple[int, Any]:
        members = self._check_guild(guild_id)["members"]
        return 200, [copy.deepcopy(m) for m in members.values()][: int(rec.query.get("limit", 1))]

    async def _r_guild_member(
        self, rec: RecordedRequest, guild_id: str, user_id: str
    ) -> tuple[int, Any]:
        member = self._check_guild(guild_id)["members"].get(user_id)
        if member is None:
            raise _Reply(404, _error(10007, "Unknown Member"))
        return 200, copy.deepcopy(member)

    async def _r_active_threads(self, rec: RecordedRequest, guild_id: str) -> tuple[int, Any]:
        self._check_guild(guild_id)
        threads = [
            copy.deepcopy(c)
            for c in self._channels.values()
            if c.get("guild_id") == guild_id
            and c["type"] in (10, 11, 12)
            and not c["thread_metadata"]["archived"]
        ]
        return 200, {"threads": threads, "members": []}

    # -- interactions

    def _interaction_or_404(self, interaction_id: str, token: str) -> dict:
        state = self._interactions.get(interaction_id)
        if state is None or state["payload"]["token"] != token:
            raise _Reply(404, _error(10062, "Unknown interaction"))
        return state

    def _interaction_by_token(self, app_id: str, token: str) -> dict:
        if app_id != self.application_id:
            raise _Reply(404, _error(10015, "Unknown Webhook"))
        for state in self._interactions.values():
            if state["payload"]["token"] == token:
                return state
        raise _Reply(404, _error(10015, "Unknown Webhook"))

    def _interaction_message_fields(self, payload: dict, *, followup: bool = False) -> dict:
        user = payload.get("member", {}).get("user") or payload.get("user")
        meta: dict[str, Any] = {
            "id": payload["id"],
            "type": payload["type"],
            "user": copy.deepcopy(user),
            "authorizing_integration_owners": payload["authorizing_integration_owners"],
        }
        fields: dict[str, Any] = {
            "webhook_id": self.application_id,
            "application_id": self.application_id,
            "interaction_metadata": meta,
        }
        if payload["type"] == 2:
            meta.update(
                {"name": payload["data"]["name"], "command_type": payload["data"].get("type", 1)}
            )
            fields["type"] = 20
            fields["interaction"] = {
                "id": payload["id"],
                "type": 2,
                "name": payload["data"]["name"],
                "user": copy.deepcopy(user),
            }
        elif payload.get("message"):
            meta["interacted_message_id"] = payload["message"]["id"]
        if followup:
            fields["type"] = 0
        return fields

    async def _r_callback(
        self, rec: RecordedRequest, interaction_id: str, token: str
    ) -> tuple[int, Any]:
        state = self._interaction_or_404(interaction_id, token)
        payload = state["payload"]
        body = rec.json or {}
        with self._lock:
            state["callbacks"].append(
                {"type": body.get("type"), "data": copy.deepcopy(body.get("data"))}
            )
        if state["acked"]:
            raise _Reply(400, _error(40060, "Interaction has already been acknowledged."))
        rtype, data = body.get("type"), body.get("data") or {}
        itype = payload["type"]
        if (
            rtype in (6, 7)
            and itype not in (3, 5)
            or rtype == 8
            and itype != 4
            or rtype == 9
            and itype == 5
        ):
            raise _invalid_form(
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": "Interaction response type is invalid",
                            }
                        ]
                    }
                }
            )
        channel_id = payload["channel_id"]
        resource: dict | None = None
        message: dict | None = None
        if rtype == 4:
            flags = FLAG_EPHEMERAL if int(data.get("flags") or 0) & FLAG_EPHEMERAL else 0
            message = self._bot_message_from_body(
                channel_id,
                data,
                rec.files,
                flags=flags,
                **self._interaction_message_fields(payload),
            )
            self._store_message(message)
            state["original_message_id"] = message["id"]
            await self._echo("MESSAGE_CREATE", message)
        elif rtype == 5:
            flags = FLAG_LOADING | (
                FLAG_EPHEMERAL if int(data.get("flags") or 0) & FLAG_EPHEMERAL else 0
            )
            message = self._new_message(
                channel_id,
                self.bot_user,
                "",
                flags=flags,
                **self._interaction_message_fields(payload),
            )
            self._store_message(message)
            state["original_message_id"] = message["id"]
            await self._echo("MESSAGE_CREATE", message)
        elif rtype in (6, 7):
            target = self._messages.get(payload.get("message", {}).get("id", ""))
            if target is None:
                raise _Reply(404, _error(10008, "Unknown Message"))
            state["original_message_id"] = target["id"]
            if rtype == 7:
                self._apply_edit(target, data, rec.files)
                await self._echo("MESSAGE_UPDATE", target)
                message = target
        elif rtype == 9:
            errors: dict = {}
            if not 1 <= len(data.get("title") or "") <= 45:
                _put_field_error(
                    errors,
                    ["data", "title"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 45 in length.",
                )
            if not data.get("custom_id"):
                _put_field_error(
                    errors, ["data", "custom_id"], "BASE_TYPE_REQUIRED", "This field is required"
                )
            if errors:
                raise _invalid_form(errors)
            with self._lock:
                self._modals[data["custom_id"]] = {
                    "data": copy.deepcopy(data),
                    "interaction_id": interaction_id,
                }
        with self._lock:
            state["acked"] = True
            state["response_type"] = rtype
        if rec.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        inter: dict[str, Any] = {"id": interaction_id, "type": itype}
        if state["original_message_id"] and rtype in (4, 5, 7):
            original = self._messages[state["original_message_id"]]
            inter.update(
                {
                    "response_message_id": original["id"],
                    "response_message_loading": rtype == 5,
                    "response_message_ephemeral": bool(original["flags"] & FLAG_EPHEMERAL),
                }
            )
        response: dict[str, Any] = {"interaction": inter}
        if message is not None:
            resource = {"type": rtype, "message": copy.deepcopy(message)}
        elif rtype in (5, 6):
            resource = {"type": rtype}
        if resource is not None:
            response["resource"] = resource
        return 200, response

    async def _r_followup(self, rec: RecordedRequest, app_id: str, token: str) -> tuple[int, Any]:
        state = self._interaction_by_token(app_id, token)
        if not state["acked"]:
            raise _Reply(404, _error(10015, "Unknown Webhook"))
        payload = state["payload"]
        body = rec.json or {}
        original = self._messages.get(state["original_message_id"] or "")
        if original is not None and original["flags"] & FLAG_LOADING:
            # the first follow-up after a deferral replaces the "thinking..." message
            self._apply_edit(original, body, rec.files)
            msg = original
            await self._echo("MESSAGE_UPDATE", msg)
        else:
            flags = FLAG_EPHEMERAL if int(body.get("flags") or 0) & FLAG_EPHEMERAL else 0
            msg = self._bot_message_from_body(
                payload["channel_id"],
                body,
                rec.files,
                flags=flags,
                **self._interaction_message_fields(payload, followup=True),
            )
            msg["interaction_metadata"]["original_response_message_id"] = state[
                "original_message_id"
            ]
            self._store_message(msg)
            with self._lock:
                state["followup_ids"].append(msg["id"])
            await self._echo("MESSAGE_CREATE", msg)
        if rec.query.get("wait", "").lower() in ("1", "true"):
            return 200, copy.deepcopy(msg)
        return 204, None

    async def _r_webhook_message(
        self, rec: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        state = self._interaction_by_token(app_id, token)
        if message_id == "@original":
            message_id = state["original_message_id"] or ""
        elif message_id not in state["followup_ids"] and message_id != state["original_message_id"]:
            raise _Reply(404, _error(10008, "Unknown Message"))
        msg = self._messages.get(message_id)
        if msg is None or message_id in self._deleted:
            raise _Reply(404, _error(10008, "Unknown Message"))
        if rec.method == "GET":
            return 200, copy.deepcopy(msg)
        if rec.method == "DELETE":
            await self._delete(msg)
            return 204, None
        self._apply_edit(msg, rec.json or {}, rec.files)
        await self._echo("MESSAGE_UPDATE", msg)
        return 200, copy.deepcopy(msg)

    # -- application commands

    def _command_object(self, body: dict, guild_id: str | None) -> dict:
        errors: dict = {}
        ctype = int(body.get("type") or 1)
        name = body.get("name") or ""
        if (
            ctype == 1
            and not re.fullmatch(r"[-_'\w]{1,32}", name)
            or ctype == 1
            and name != name.lower()
        ):
            _put_field_error(
                errors, ["name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        description = body.get("description") or ""
        if ctype == 1 and not 1 <= len(description) <= 100:
            _put_field_error(
                errors,
                ["description"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )

        def check_options(options: list, path: list) -> None:
            if len(options) > 25:
                _put_field_error(
                    errors, path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            for i, opt in enumerate(options):
                if not 1 <= len(opt.get("description") or "") <= 100:
                    _put_field_error(
                        errors,
                        path + [i, "description"],
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                if (
                    not re.fullmatch(r"[-_'\w]{1,32}", opt.get("name") or "")
                    or opt["name"] != opt["name"].lower()
                ):
                    _put_field_error(
                        errors,
                        path + [i, "name"],
                        "APPLICATION_COMMAND_INVALID_NAME",
                        "Command name is invalid",
                    )
                check_options(opt.get("options") or [], path + [i, "options"])

        check_options(body.get("options") or [], ["options"])
        if errors:
            raise _invalid_form(errors)
        key = (guild_id, ctype, name)
        with self._lock:
            cmd_id = self._command_ids.setdefault(key, self._snowflake())
        cmd = {
            "id": cmd_id,
            "application_id": self.application_id,
            "version": self._snowflake(),
            "default_member_permissions": body.get("default_member_permissions"),
            "type": ctype,
            "name": name,
            "name_localizations": body.get("name_localizations"),
            "description": description,
            "description_localizations": body.get("description_localizations"),
            "dm_permission": body.get("dm_permission", True),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types", [0]),
            "options": copy.deepcopy(body.get("options") or []),
            "nsfw": bool(body.get("nsfw", False)),
        }
        if guild_id is not None:
            cmd["guild_id"] = guild_id
        return cmd

    async def _r_commands(self, rec: RecordedRequest, app_id: str, guild_id: str | None = None):
        if app_id != self.application_id:
            raise _Reply(403, _error(50001, "Missing Access"))
        if guild_id is not None:
            self._check_guild(guild_id)
        if rec.method == "GET":
            return 200, self.registered_commands(guild_id)
        if rec.method == "PUT":
            body = rec.json or []
            if len(body) > 100:
                raise _invalid_form(
                    {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 100 or fewer in length.",
                            }
                        ]
                    }
                )
            commands = [self._command_object(c, guild_id) for c in body]
            names = [(c["type"], c["name"]) for c in commands]
            if len(set(names)) != len(names):
                raise _invalid_form(
                    {
                        "_errors": [
                            {
                                "code": "APPLICATION_COMMANDS_DUPLICATE_NAME",
                                "message": "Application command names must be unique",
                            }
                        ]
                    }
                )
            with self._lock:
                self._commands[guild_id] = commands
            return 200, copy.deepcopy(commands)
        cmd = self._command_object(rec.json or {}, guild_id)
        with self._lock:
            existing = self._commands.setdefault(guild_id, [])
            existing[:] = [c for c in existing if c["id"] != cmd["id"]] + [cmd]
        return 201, copy.deepcopy(cmd)

    async def _r_command(
        self, rec: RecordedRequest, app_id: str, command_id: str, guild_id: str | None = None
    ):
        with self._lock:
            commands = self._commands.get(guild_id, [])
            cmd = next((c for c in commands if c["id"] == command_id), None)
            if cmd is None or app_id != self.application_id:
                raise _Reply(404, _error(10063, "Unknown application command"))
            if rec.method == "DELETE":
                commands.remove(cmd)
                return 204, None
            if rec.method == "PATCH":
                cmd.update({k: v for k, v in (rec.json or {}).items() if k in cmd})
                cmd["version"] = self._snowflake()
            return 200, copy.deepcopy(cmd)


# ---------------------------------------------------------------------- running a discord.py client


# names discord.py gives the tasks that run user code (event handlers, views, modals, app commands)
_HANDLER_TASK_PREFIXES = (
    "discord.py: ",
    "discord-ui-view-dispatch-",
    "discord-ui-modal-dispatch-",
    "discord-ui-dynamic-item-",
    "CommandTree-invoker",
)


class ClientRunner:
    """Handle on a discord.py client running in its own event-loop thread (see :func:`run_client`)."""

    def __init__(
        self,
        client: Any,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        start_future: concurrent.futures.Future,
    ):
        self.client = client
        self.loop = loop
        self.thread = thread
        self.start_future = start_future

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the client's loop (e.g. ``runner.run(tree.sync())``) and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 30.0, **kwargs: Any) -> Any:
        """Call a plain function on the client's loop thread and return its result."""

        async def wrapper() -> Any:
            return fn(*args, **kwargs)

        return self.run(wrapper(), timeout)

    def settle(self, fake: FakeDiscord | None = None, timeout: float = 10.0) -> None:
        """Wait until the client is idle: it has received every gateway event ``fake`` sent so
        far and no event handler / view / modal / app-command task of discord.py is running."""
        target = fake._last_seq() if fake is not None else None
        deadline = time.monotonic() + timeout
        while True:
            busy = self.run(self._busy(target), timeout=max(1.0, deadline - time.monotonic()))
            if not busy:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"discord client still busy after {timeout}s: {busy}")
            time.sleep(0.005)

    async def _busy(self, target_seq: int | None) -> list[str]:
        if target_seq is not None:
            sockets = [getattr(self.client, "ws", None)]
            if sockets[0] is None:  # AutoShardedClient: one websocket per shard
                shards = getattr(self.client, "shards", {}) or {}
                sockets = [
                    getattr(getattr(info, "_parent", None), "ws", None) for info in shards.values()
                ]
            seqs = [ws.sequence or 0 for ws in sockets if ws is not None]
            if not seqs or max(seqs) < target_seq:
                return [f"gateway: client at seq {max(seqs, default=None)}, fake sent {target_seq}"]
        return [
            t.get_name()
            for t in asyncio.all_tasks()
            if not t.done() and t.get_name().startswith(_HANDLER_TASK_PREFIXES)
        ]

    def check(self) -> None:
        """Re-raise if ``client.start()`` died (e.g. a login failure)."""
        if self.start_future.done():
            self.start_future.result()
            raise RuntimeError("client.start() returned: the client stopped")


@contextlib.contextmanager
def run_client(
    client: Any,
    token: str = "fake-bot-token",
    *,
    timeout: float = 20.0,
    guild_ready_timeout: float | None = 0.1,
    settle_timeout: float = 3.0,
) -> Iterator[ClientRunner]:
    """Start ``client.start(token)`` in a new event loop on a background thread, wait until the
    client is ready (``on_ready`` fired), yield a :class:`ClientRunner`; on exit ``await
    client.close()``, cancel what is left on that loop, close the loop and join the thread.

    ``guild_ready_timeout``: discord.py waits this long after the last GUILD_CREATE before
    ``on_ready`` (its default is 2 s); the fake sends all guilds at once, so 0.1 s is plenty
    (``None`` keeps the client's own setting). ``settle_timeout``: on exit, first wait up to
    this long for running handlers to finish (see :meth:`ClientRunner.settle`)."""
    if guild_ready_timeout is not None:
        client._connection.guild_ready_timeout = guild_ready_timeout
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="discord-client", daemon=True)
    thread.start()
    start_future = asyncio.run_coroutine_threadsafe(client.start(token), loop)
    runner = ClientRunner(client, loop, thread, start_future)

    def shutdown() -> None:
        try:
            if settle_timeout and not client.is_closed() and not start_future.done():
                with contextlib.suppress(Exception):
                    runner.settle(timeout=settle_timeout)  # let in-flight handlers finish first
            if not client.is_closed():
                asyncio.run_coroutine_threadsafe(client.close(), loop).result(15)
            with contextlib.suppress(BaseException):
                start_future.result(15)
        finally:

            async def drain() -> None:
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await loop.shutdown_asyncgens()

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(drain(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            # discord.py's heartbeat runs in its own (daemon) thread; it exits promptly once stopped
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(
                type(t).__name__ == "KeepAliveHandler" and t.is_alive()
                for t in threading.enumerate()
            ):
                time.sleep(0.01)

    try:
        deadline = time.monotonic() + timeout
        while not client.is_ready():
            if start_future.done():
                start_future.result()  # raises the failure
                raise RuntimeError("client.start() returned before the client became ready")
            if time.monotonic() > deadline:
                raise TimeoutError(f"discord client not ready within {timeout}s")
            time.sleep(0.01)
    except BaseException:
        shutdown()
        raise
    try:
        yield runner
    finally:
        shutdown()
