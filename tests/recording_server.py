"""A real HTTP server on 127.0.0.1 that records what it receives: a handoff webhook receiver,
or the Slack Web API at its network boundary (``chat.postMessage`` in Slack's wire format)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class RecordingServer:
    def __init__(self, respond=None):
        """``respond(received) -> (status, json_body)``; default 200 {"ok": true}."""
        self.received: list[Received] = []
        self.arrived = threading.Event()
        respond = respond or (lambda received: (200, {"ok": True}))
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                got = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                server.received.append(got)
                status, body = respond(got)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                server.arrived.set()

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def slack_web_api(received: Received):
    """What Slack answers to chat.postMessage (abridged), or its error shapes."""
    if received.headers.get("authorization") != "Bearer xoxb-test-token":
        return 200, {"ok": False, "error": "invalid_auth"}
    if not received.path.endswith("/chat.postMessage"):
        return 200, {"ok": False, "error": "unknown_method"}
    payload = received.json()
    return 200, {
        "ok": True,
        "channel": payload["channel"],
        "ts": "1700000000.000100",
        "message": {"text": payload.get("text", ""), "type": "message"},
    }
