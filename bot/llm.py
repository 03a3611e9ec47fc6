"""The chat model client: always the OpenAI-compatible API (vLLM, or the embedded llama.cpp)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from linguadesk.settings import GenerationPreset, Settings

from .llm_server import resolve_endpoint

log = logging.getLogger(__name__)

# The chat model of one scenario ("answer", "translate", "rewrite", "small_talk"): a chat model
# with that scenario's sampling bound, ready for ``prompt | model``.
ModelFactory = Callable[[str], Runnable]


def make_chat_model(settings: Settings) -> ChatOpenAI:
    endpoint = resolve_endpoint(settings)
    return ChatOpenAI(
        base_url=endpoint.url,
        api_key=SecretStr(endpoint.api_key),
        model=endpoint.model,
        temperature=settings.presets.answer.temperature,
        # ``max_completion_tokens`` is the alias of the ``max_tokens`` field: the same setting
        max_completion_tokens=settings.presets.answer.max_tokens,
        timeout=settings.llm.timeout_s,
        max_retries=settings.llm.max_retries,  # the OpenAI client backs off between tries
        streaming=True,
        stream_usage=True,  # vLLM reports the tokens of a streamed answer in its last chunk
    )


class LLMUnavailable(Exception):
    """The circuit breaker is open: the LLM failed repeatedly and is given time to recover."""


class CircuitBreaker:
    """Closed while calls succeed; open for ``reset_s`` after ``failures`` failures in a row;
    then one trial call decides (half-open)."""

    def __init__(
        self, failures: int = 3, reset_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures, self.reset_s, self.clock = max(1, failures), reset_s, clock
        self._failed, self._trial = 0, False
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raises :class:`LLMUnavailable` while open."""
        with self._lock:
            if self._opened_at is None:
                return
            if self.clock() - self._opened_at >= self.reset_s and not self._trial:
                self._trial = True  # this caller tries; the others still fail fast
                return
            left = max(0.0, self.reset_s - (self.clock() - self._opened_at))
            raise LLMUnavailable(
                f"the LLM failed {self._failed} times in a row; next try in {left:.0f} s"
            )

    def success(self) -> None:
        with self._lock:
            self._failed, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failed += 1
            if self._trial or self._failed >= self.failures:
                self._opened_at, self._trial = self.clock(), False

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None


def server_kind(settings: Settings) -> str:
    """``vllm`` or ``llama.cpp``: they name the repetition penalty differently, and each
    silently ignores the other's name. ``llm_server = "auto"`` asks the configured server's
    ``/v1/models`` (``owned_by``) once; unreachable or unknown counts as vLLM."""
    if settings.llm.server != "auto":
        return settings.llm.server
    if not settings.llm.url:
        return "llama.cpp"  # the embedded server
    try:
        response = httpx.get(
            settings.llm.url.rstrip("/") + "/models",
            timeout=5,
            headers={"Authorization": f"Bearer {settings.llm.api_key.get_secret_value()}"},
        )
        owners = {m.get("owned_by") for m in response.json().get("data", [])}
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.info("could not ask the LLM server what it is (%s); assuming vLLM", type(exc).__name__)
        return "vllm"
    return "llama.cpp" if "llamacpp" in owners else "vllm"


def with_preset(llm: Runnable, preset: GenerationPreset, server: str = "vllm") -> Runnable:
    """The model with one scenario's sampling bound. vLLM takes ``repetition_penalty`` and
    ``top_k`` as extra body fields; llama.cpp's server calls the penalty ``repeat_penalty``."""
    if not isinstance(llm, ChatOpenAI):
        return llm  # another LangChain chat model: its own settings apply
    penalty = "repeat_penalty" if server == "llama.cpp" else "repetition_penalty"
    extra: dict[str, Any] = {penalty: preset.repetition_penalty}
    if preset.top_k is not None:
        extra["top_k"] = preset.top_k
    kwargs: dict[str, Any] = {
        "temperature": preset.temperature,
        "top_p": preset.top_p,
        "max_completion_tokens": preset.max_tokens,
        "extra_body": extra,
    }
    if preset.seed is not None:
        kwargs["seed"] = preset.seed
    return llm.bind(**kwargs)
