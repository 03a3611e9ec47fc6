"""The chat model client: always the OpenAI-compatible API (vLLM, or the embedded llama.cpp)."""

from __future__ import annotations

from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI

from linguadesk.settings import GenerationPreset, Settings

from .llm_server import resolve_endpoint


def make_chat_model(settings: Settings) -> ChatOpenAI:
    endpoint = resolve_endpoint(settings)
    return ChatOpenAI(
        base_url=endpoint.url,
        api_key=endpoint.api_key,
        model=endpoint.model,
        temperature=settings.preset_answer.temperature,
        max_tokens=settings.preset_answer.max_tokens,
        timeout=settings.llm_timeout_s,
        max_retries=1,
        streaming=True,
    )


def server_kind(settings: Settings) -> str:
    return "vllm" if settings.llm_url else "llama.cpp"


def with_preset(llm, preset: GenerationPreset, server: str = "vllm") -> Runnable:
    """The model with one scenario's sampling bound. vLLM takes ``repetition_penalty`` and
    ``top_k`` as extra body fields; llama.cpp's server calls the penalty ``repeat_penalty``."""
    if not isinstance(llm, ChatOpenAI):
        return llm  # another LangChain chat model: its own settings apply
    extra = {"repeat_penalty" if server == "llama.cpp" else "repetition_penalty":
             preset.repetition_penalty}
    if preset.top_k is not None:
        extra["top_k"] = preset.top_k
    kwargs = {"temperature": preset.temperature, "top_p": preset.top_p,
              "max_completion_tokens": preset.max_tokens, "extra_body": extra}
    if preset.seed is not None:
        kwargs["seed"] = preset.seed
    return llm.bind(**kwargs)
