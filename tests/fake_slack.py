"""Slack's side of the wire, on 127.0.0.1: the Web API (``base_url``), files behind the bot
token, slash-command ``response_url``s, and a Socket Mode WebSocket. It records what the real
slack-bolt / slack_sdk code sends, in Slack's own formats, and answers as Slack does."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
SIGNING_SECRET = "test-signing-secret"
TEAM, BOT_USER, BOT_ID = "T0TEAM", "U0BOT", "B0BOT"


@dataclass
class Call:
    method: str  # "chat.postMessage", or "response_url", or "file"
    args: dict
    headers: dict
    response: dict | None = None  # what the fake answered (JSON calls)
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    def __init__(self):
        self.calls: list[Call] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (name, content)
        self.locales: dict[str, str] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.rate_limited: dict[str, int] = {}  # method -> how many next calls get a 429
        self._ts = itertools.count(1)
        self._changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status, body, headers=()):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type",
                    "application/octet-stream"
                    if isinstance(body, bytes)
                    else "application/json; charset=utf-8",
                )
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._handle(b"")

            def do_POST(self):
                self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _handle(self, raw: bytes):
                url = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                args = {k: v[0] for k, v in parse_qs(url.query).items()}
                if raw:
                    if headers.get("content-type", "").startswith("application/json"):
                        args.update(json.loads(raw))
                    else:
                        args.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                status, body, extra = fake._route(url.path, args, headers)
                self._answer(status, body, extra)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.api_url = self.url + "/api/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._socket = None
        self._socket_connections: list = []
        self.acks: list[dict] = []

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._socket is not None:
            self._socket.shutdown()
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- the Web API ------------------------------------------------------------------------

    def _record(self, method: str, args: dict, headers: dict, response) -> None:
        with self._changed:
            self.calls.append(
                Call(method, args, headers, response if isinstance(response, dict) else None)
            )
            self._changed.notify_all()

    def _route(self, path: str, args: dict, headers: dict):
        method = (
            "response_url"
            if path.startswith("/response/")
            else "file"
            if path.startswith("/files-pri/")
            else path.removeprefix("/api/")
        )
        status, body, extra = self._answer(method, path, args, headers)
        self._record(method, args if method != "file" else {"path": path}, headers, body)
        return status, body, extra

    def _answer(self, method: str, path: str, args: dict, headers: dict):
        if method == "response_url":
            return 200, {"ok": True}, ()
        if method == "file":
            if headers.get("authorization") != f"Bearer {BOT_TOKEN}":
                return 302, b"", [("Location", "/login")]
            name, data = self.files[path.rsplit("/", 1)[-1]]
            return 200, data, ()
        token = (headers.get("authorization") or "").removeprefix("Bearer ") or args.get("token")
        wanted = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != wanted:
            return 200, {"ok": False, "error": "invalid_auth"}, ()
        if self.rate_limited.get(method):
            self.rate_limited[method] -= 1
            return 429, {"ok": False, "error": "ratelimited"}, [("Retry-After", "1")]
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, ()
        return 200, handler(args), ()

    def _api_auth_test(self, args):
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": "linguadesk",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, args):
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        return {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": args.get("text", ""),
            "blocks": blocks or [],
            "thread_ts": args.get("thread_ts"),
        }

    def _api_chat_postMessage(self, args):
        ts = f"1700000{next(self._ts):03d}.000100"
        return {
            "ok": True,
            "channel": args["channel"],
            "ts": ts,
            "message": {**self._message(args), "ts": ts},
        }

    def _api_chat_update(self, args):
        return {
            "ok": True,
            "channel": args["channel"],
            "ts": args["ts"],
            "text": args.get("text", ""),
            "message": self._message(args),
        }

    def _api_chat_postEphemeral(self, args):
        return {"ok": True, "message_ts": f"1700000{next(self._ts):03d}.000200"}

    def _api_users_info(self, args):
        user = args["user"]
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": TEAM,
                "name": user.lower(),
                "locale": self.locales.get(user, "en-US"),
                "is_bot": False,
            },
        }

    def _api_usergroups_users_list(self, args):
        if args["usergroup"] not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.usergroups[args["usergroup"]]}

    def _api_files_info(self, args):
        if args["file"] not in self.files:
            return {"ok": False, "error": "file_not_found"}
        name, data = self.files[args["file"]]
        url = f"{self.url}/files-pri/{TEAM}-{args['file']}/download/{args['file']}"
        return {
            "ok": True,
            "file": {
                "id": args["file"],
                "name": name,
                "size": len(data),
                "url_private": url,
                "url_private_download": url,
            },
        }

    def _api_apps_connections_open(self, args):
        return {"ok": True, "url": self._socket_url}

    # --- what tests use -------------------------------------------------------------------

    def add_file(self, name: str, data: bytes) -> str:
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.files[file_id] = (name, data)
        return file_id

    def response_url(self) -> str:
        return f"{self.url}/response/{uuid.uuid4().hex}"

    def calls_to(self, method: str) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate, timeout: float = 120.0):
        """Waits until ``predicate(calls)`` returns something truthy, and returns it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = predicate(list(self.calls))
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; Slack saw: {[c.method for c in self.calls]}")
                self._changed.wait(min(left, 0.5))

    def final_update(self, channel: str, ts: str, timeout: float = 180.0) -> Call:
        """The chat.update of that message that carries blocks (the finished answer)."""
        return self.wait_for(
            lambda calls: next(
                (
                    c
                    for c in reversed(calls)
                    if c.method == "chat.update"
                    and c.args.get("ts") == ts
                    and c.args["channel"] == channel
                    and c.args.get("blocks")
                ),
                None,
            ),
            timeout,
        )

    # --- Socket Mode ------------------------------------------------------------------------

    def start_socket_mode(self) -> None:
        from websockets.sync.server import serve

        def handler(connection):
            self._socket_connections.append(connection)
            connection.send(
                json.dumps(
                    {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}}
                )
            )
            for raw in connection:
                with self._changed:
                    self.acks.append(json.loads(raw))
                    self._changed.notify_all()

        self._socket = serve(handler, "127.0.0.1", 0)
        port = self._socket.socket.getsockname()[1]
        self._socket_url = f"ws://127.0.0.1:{port}/link/?ticket=t"
        threading.Thread(target=self._socket.serve_forever, daemon=True).start()

    def push(self, envelope_type: str, payload: dict, *, retry_attempt: int = 0) -> str:
        """Sends an envelope over the Socket Mode connection; returns its envelope_id."""
        deadline = time.monotonic() + 30
        while not self._socket_connections and time.monotonic() < deadline:
            time.sleep(0.05)
        envelope_id = uuid.uuid4().hex
        self._socket_connections[-1].send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": envelope_type,
                    "payload": payload,
                    "accepts_response_payload": envelope_type != "events_api",
                    "retry_attempt": retry_attempt,
                    "retry_reason": "timeout" if retry_attempt else "",
                }
            )
        )
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for ack in self.acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for {envelope_id}")
                self._changed.wait(min(left, 0.5))


# --- what Slack sends to the app (Events API, interactivity, slash commands) ---------------


def event_callback(event: dict, *, event_id: str | None = None) -> dict:
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event": {"event_ts": event.get("ts"), **event},
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "is_ext_shared_channel": False,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def mention(
    text: str,
    *,
    channel: str = "C0SUPPORT",
    user: str = "U0ALICE",
    ts: str,
    thread_ts: str | None = None,
) -> dict:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
        "team": TEAM,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def channel_message(
    text: str,
    *,
    channel: str = "C0SUPPORT",
    user: str = "U0ALICE",
    ts: str,
    thread_ts: str | None = None,
    channel_type: str = "channel",
) -> dict:
    event = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "channel_type": channel_type,
        "team": TEAM,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def block_action(
    action_id: str,
    value: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C0SUPPORT",
    message_ts: str,
    thread_ts: str | None,
    response_url: str,
) -> dict:
    container = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0APP",
        "token": "legacy",
        "container": container,
        "trigger_id": "1.2.3",
        "team": {"id": TEAM, "domain": "test"},
        "channel": {"id": channel, "name": "support"},
        "message": {
            "type": "message",
            "ts": message_ts,
            "thread_ts": thread_ts,
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": "",
        },
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "linguadesk_reply",
                "value": value,
                "type": "button",
                "action_ts": str(time.time()),
            }
        ],
    }


def slash_command(text: str, *, user: str, response_url: str, command: str = "/kb") -> dict:
    return {
        "token": "legacy",
        "team_id": TEAM,
        "team_domain": "test",
        "channel_id": "C0SUPPORT",
        "channel_name": "support",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0APP",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def signed_headers(
    body: bytes, *, secret: str = SIGNING_SECRET, content_type: str, retry_num: int | None = None
) -> dict:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
    if retry_num:
        headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    return headers
