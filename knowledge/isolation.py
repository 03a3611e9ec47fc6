"""Parse one file from outside (an upload, a URL download, a chat attachment) in a child
process, so that a hostile file cannot freeze or exhaust the server: the child caps its own
CPU time and address space (setrlimit), the parent enforces the wall clock, and whatever goes
wrong becomes a ``SourceError`` naming the file.

A subprocess, not a fork: the server runs many threads. The child is
``python -m knowledge.isolation REQUEST`` and imports only what parsing needs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from .entries import FaqEntry, SourceError
from .limits import IngestLimits

_ROOT = Path(__file__).resolve().parents[1]  # where ``-m knowledge.isolation`` is found
_COMMAND = [sys.executable, "-m", "knowledge.isolation"]
_START_S = 5.0  # interpreter and parser imports on a busy machine, on top of the parse time
_OUT_OF_MEMORY = 3  # the child's exit status


def load_isolated(path: Path, source: str, limits: IngestLimits) -> list[FaqEntry]:
    """``load_file(path, source, limits)`` in a child process under ``limits``."""
    request = json.dumps(
        {"path": str(path), "source": source, "limits": dataclasses.asdict(limits)}
    )
    try:
        done = subprocess.run(
            [*_COMMAND, request],
            cwd=_ROOT,
            stdin=subprocess.DEVNULL,
            env=_child_environment(),
            capture_output=True,
            timeout=limits.parse_timeout_s + _START_S,
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise _too_slow(source, limits) from None
    if done.returncode == -signal.SIGXCPU:
        raise _too_slow(source, limits)
    # SIGKILL: the kernel's out-of-memory killer (the CPU limit sends SIGXCPU first).
    if done.returncode in (_OUT_OF_MEMORY, -signal.SIGKILL):
        raise SourceError(
            source,
            f"expands beyond {limits.parse_memory_mb} MB when read; split "
            "it into smaller files (or raise LINGUADESK_INGEST__PARSE_MEMORY_MB)",
        )
    try:
        reply = (
            json.loads(done.stdout.decode("utf-8", "surrogatepass"))
            if done.returncode == 0
            else None
        )
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise SourceError(source, f"could not be parsed ({_crash(done)})")
    if "error" in reply:
        raise SourceError(source, reply["error"]["problem"], reply["error"]["line"])
    return [FaqEntry(**fields) for fields in reply["entries"]]


def _child_environment() -> dict[str, str]:
    """What the parser needs, and none of the server's secrets (API keys, bot tokens)."""
    return {
        name: value
        for name, value in os.environ.items()
        if name in _CHILD_VARIABLES or name.startswith("LC_")
    }


_CHILD_VARIABLES = {"PATH", "LANG", "PYTHONPATH", "TMPDIR", "HOME", "SYSTEMROOT"}


def _too_slow(source: str, limits: IngestLimits) -> SourceError:
    return SourceError(
        source,
        f"took longer than {limits.parse_timeout_s:g} s to read; split it "
        "into smaller files (or raise LINGUADESK_INGEST__PARSE_TIMEOUT_S)",
    )


def _crash(done: subprocess.CompletedProcess) -> str:
    if done.returncode < 0:
        how = f"the parser was killed by {signal.Signals(-done.returncode).name}"
    else:
        how = f"the parser exited with status {done.returncode}"
    last = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
    return f"{how}: {last[0][:200]}" if last else how


def _limit(kind: int, value: int, hard: int | None = None) -> None:
    """Lower a limit; never above a hard limit the server was started with."""
    _, current = resource.getrlimit(kind)
    hard = value if hard is None else hard
    if current != resource.RLIM_INFINITY:
        value, hard = min(value, current), min(hard, current)
    resource.setrlimit(kind, (value, hard))


def _child(request: dict) -> dict:
    limits = IngestLimits(**request["limits"])
    _limit(resource.RLIMIT_CORE, 0)  # SIGXCPU would otherwise dump a core of up to the AS limit
    cpu_s = max(1, math.ceil(limits.parse_timeout_s))
    _limit(resource.RLIMIT_CPU, cpu_s, cpu_s + 1)
    _limit(resource.RLIMIT_AS, limits.parse_memory_mb * 1024 * 1024)
    from .loaders import load_file

    try:
        entries = load_file(Path(request["path"]), request["source"], limits)
    except SourceError as exc:
        return {"error": {"problem": exc.problem, "line": exc.line}}
    return {"entries": [dataclasses.asdict(entry) for entry in entries]}


if __name__ == "__main__":
    try:
        # surrogatepass: text pulled out of a PDF may hold lone surrogates, as in process.
        reply = json.dumps(_child(json.loads(sys.argv[1])), ensure_ascii=False)
        sys.stdout.buffer.write(reply.encode("utf-8", "surrogatepass"))
        sys.stdout.flush()
    except MemoryError:
        os._exit(_OUT_OF_MEMORY)  # no clean-up: that might need memory too
