"""A recording reverse proxy for the vLLM API parity test (`make test-vllm`).

The tests talk to vLLM through it, so every request the bot really sends (its parameters, not
its API key) and every answer (status, body; for a stream the text, the finish reason and the
usage chunk) lands in a JSONL file: the evidence when vLLM and llama.cpp disagree about the
API. Streams are passed on chunk by chunk as they arrive. Standard library only.

    python scripts/vllm_record_proxy.py serve --upstream http://127.0.0.1:8001 \\
        --port 8002 --log requests.jsonl
    python scripts/vllm_record_proxy.py summary requests.jsonl
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "date",
    "server",
}
KEEP_RESPONSE = 20_000  # characters of a response body kept in the log


def _parse_stream(raw: str) -> dict:
    """The text, finish reasons and usage of an SSE chat completion stream."""
    text, finish, usage, chunks, errors = [], [], None, 0, []
    for line in raw.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            continue
        chunks += 1
        try:
            event = json.loads(data)
        except ValueError:
            errors.append(data[:500])
            continue
        if "error" in event:
            errors.append(event["error"])
        for choice in event.get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
            if choice.get("finish_reason"):
                finish.append(choice["finish_reason"])
        if event.get("usage"):
            usage = event["usage"]
    return {
        "chunks": chunks,
        "text": "".join(text),
        "finish_reasons": finish,
        "usage": usage,
        "errors": errors,
    }


class Recorder:
    def __init__(self, path: str):
        self.path, self.lock = path, threading.Lock()

    def write(self, record: dict) -> None:
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def make_handler(upstream: str, recorder: Recorder):
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the JSONL log is the record
            pass

        def do_GET(self):
            self._forward()

        def do_POST(self):
            self._forward()

        def do_DELETE(self):
            self._forward()

        def _forward(self):
            started = time.time()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            record = {
                "ts": round(started, 3),
                "method": self.command,
                "path": self.path,
                "authorization": "Authorization" in self.headers,
            }
            try:
                record["request"] = json.loads(body) if body else None
            except ValueError:
                record["request"] = body[:2000].decode("utf-8", "replace")
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=900)
            captured, first_byte = bytearray(), None
            try:
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                record["status"] = response.status
                content_type = response.getheader("content-type", "")
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while chunk := response.read1(65536):
                    if first_byte is None:
                        first_byte = time.time()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                    captured += chunk
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError) as exc:
                record["client_disconnected"] = type(exc).__name__
                self.close_connection = True
            except OSError as exc:  # upstream down: answer 502 like a proxy would
                record["status"], record["proxy_error"] = 502, f"{type(exc).__name__}: {exc}"
                try:
                    payload = json.dumps({"error": record["proxy_error"]}).encode()
                    self.send_response(502)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass
                content_type = ""
            finally:
                conn.close()
            record["elapsed_s"] = round(time.time() - started, 3)
            if first_byte is not None:
                record["first_byte_s"] = round(first_byte - started, 3)
            raw = captured.decode("utf-8", "replace")
            if "text/event-stream" in content_type:
                record["stream"] = _parse_stream(raw)
            else:
                try:
                    record["response"] = json.loads(raw) if raw else None
                except ValueError:
                    record["response"] = raw[:KEEP_RESPONSE]
            recorder.write(record)

    return Handler


def serve(args) -> None:
    server = ThreadingHTTPServer(
        ("127.0.0.1", args.port), make_handler(args.upstream, Recorder(args.log))
    )
    server.daemon_threads = True
    print(
        f"recording proxy on http://127.0.0.1:{server.server_address[1]} -> {args.upstream}",
        flush=True,
    )
    server.serve_forever()


def summary(args) -> int:
    """What the bot sent and what came back: parameters used, statuses, anything not 2xx."""
    records = []
    with open(args.log, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    chat = [r for r in records if r["path"].endswith("/chat/completions")]
    statuses = collections.Counter(r.get("status") for r in chat)
    params = collections.Counter(
        k for r in chat if isinstance(r.get("request"), dict) for k in r["request"]
    )
    streamed = [r for r in chat if "stream" in r]
    no_usage = [r for r in streamed if r.get("status") == 200 and not r["stream"]["usage"]]
    values = collections.defaultdict(collections.Counter)
    for r in chat:
        request = r.get("request") if isinstance(r.get("request"), dict) else {}
        for key in (
            "max_tokens",
            "max_completion_tokens",
            "temperature",
            "top_p",
            "top_k",
            "repetition_penalty",
            "repeat_penalty",
            "seed",
            "stream_options",
            "stop",
        ):
            if key in request:
                values[key][json.dumps(request[key])] += 1
    completion_tokens = sum(
        (r["stream"]["usage"] or {}).get("completion_tokens", 0)
        for r in streamed
        if r.get("status") == 200
    )
    generating_s = sum(
        r["elapsed_s"] - r.get("first_byte_s", 0) for r in streamed if r.get("status") == 200
    )
    print(
        f"chat completion requests: {len(chat)} ({len(streamed)} streamed); "
        f"statuses: {dict(statuses)}"
    )
    print("request fields: " + ", ".join(f"{k}×{n}" for k, n in sorted(params.items())))
    for key, counter in values.items():
        print(f"  {key}: " + ", ".join(f"{v}×{n}" for v, n in counter.most_common(6)))
    if streamed:
        print(
            f"streams without a usage chunk: {len(no_usage)}; streamed completion tokens: "
            f"{completion_tokens} in {generating_s:.0f} s after first byte"
        )
    bad = [
        r
        for r in records
        if (r.get("status") or 0) >= 400
        or r.get("proxy_error")
        or (r.get("stream") or {}).get("errors")
    ]
    for r in bad[:20]:
        print(
            f"NOT OK {r['method']} {r['path']} -> {r.get('status')}: "
            + json.dumps(
                r.get("response") or r.get("stream") or r.get("proxy_error"), ensure_ascii=False
            )[:800]
        )
        print("  request: " + json.dumps(r.get("request"), ensure_ascii=False)[:800])
    disconnected = [r for r in records if r.get("client_disconnected")]
    if disconnected:
        print(
            f"client disconnected mid-response: {len(disconnected)} (the bot stops reading "
            "a stream when it has what it needs; not an error)"
        )
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--upstream", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--log", required=True)
    m = sub.add_parser("summary")
    m.add_argument("log")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args)
        return 0
    return summary(args)


if __name__ == "__main__":
    sys.exit(main())
