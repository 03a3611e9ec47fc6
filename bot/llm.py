"""The chat model client: always the OpenAI-compatible API (vLLM, or the embedded llama.cpp)."""

from __future__ import annotations

from langchain_openai import ChatOpenAI

from linguadesk.settings import Settings

from .llm_server import resolve_endpoint


def make_chat_model(settings: Settings) -> ChatOpenAI:
    endpoint = resolve_endpoint(settings)
    return ChatOpenAI(
        base_url=endpoint.url,
        api_key=endpoint.api_key,
        model=endpoint.model,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout_s,
        max_retries=1,
        streaming=True,
    )
