"""Logs as text or JSON lines, with no secret in them, even in a traceback."""

from __future__ import annotations

import io
import json
import logging

from pydantic import SecretStr

from linguadesk.logs import REDACTED, make_handler


def emit(settings, *records) -> str:
    stream = io.StringIO()
    logger = logging.getLogger("linguadesk.test-logs")
    logger.handlers[:] = [make_handler(settings, stream)]
    logger.propagate, logger.level = False, logging.INFO
    for log in records:
        log(logger)
    return stream.getvalue()


def test_json_lines_carry_level_logger_and_message_and_no_secret(settings):
    config = settings.updated(
        {
            "log.format": "json",
            "llm.api_key": SecretStr("vllm-key-0123456789"),
            "web.admin_api_key": SecretStr("admin-key-abcdefghijkl"),
        }
    )

    def failing(logger):
        try:
            raise ConnectionError("POST http://vllm:8000 with key vllm-key-0123456789 failed")
        except ConnectionError:
            logger.exception("LLM call failed for %s", "web:c1")

    out = emit(
        config,
        lambda lg: lg.warning("Slack said invalid_auth for xoxb-1234-5678-abcdefgh"),
        lambda lg: lg.info("header Authorization: Bearer admin-key-abcdefghijkl"),
        lambda lg: lg.info("redis at redis://user:hunter2pass@redis:6379/0"),
        lambda lg: lg.info(
            "discord token MTA4NjYxNjY3NzQ5MzY0NzQ1Ng.GabcDE.abcdefghijklmnopqrstuvwxyz0123456"
        ),
        failing,
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["level"] for line in lines] == ["WARNING", "INFO", "INFO", "INFO", "ERROR"]
    assert all(line["logger"] == "linguadesk.test-logs" and line["time"] for line in lines)
    assert lines[0]["message"] == f"Slack said invalid_auth for {REDACTED}"
    assert lines[4]["message"] == "LLM call failed for web:c1" and "exc_info" in lines[4]
    for secret in ("xoxb-1234", "admin-key-abc", "hunter2pass", "MTA4NjYx", "vllm-key-0123"):
        assert secret not in out, secret
    assert "redis://[redacted]@redis:6379/0" in out


def test_text_logs_are_redacted_too(settings):
    config = settings.updated({"slack.app_token": SecretStr("xapp-1-A0-secret")})
    out = emit(config, lambda lg: lg.warning("socket mode with xapp-1-A0-secret failed"))
    assert out == f"WARNING linguadesk.test-logs: socket mode with {REDACTED} failed\n"
