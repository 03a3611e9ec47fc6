"""An LLM that keeps failing is given time to recover (circuit breaker); every turn the customer
got an apology for is kept for a follow-up. The LLM here is a real HTTP server answering 500,
the store a search that raises."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from bot.engine import Engine, Turn
from bot.failed_turns import FailedTurnLog
from bot.llm import CircuitBreaker, LLMUnavailable
from bot.messages import message
from retrieval.hybrid import HybridSearch
from retrieval.retriever import FaqRetriever
from tests.recording_server import RecordingServer


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_breaker_opens_after_repeated_failures_and_lets_one_trial_through():
    clock = Clock()
    breaker = CircuitBreaker(failures=3, reset_s=30, clock=clock)
    for _ in range(2):
        breaker.check()
        breaker.failure()
    breaker.success()  # a success in between resets the count
    for _ in range(3):
        breaker.check()
        breaker.failure()
    with pytest.raises(LLMUnavailable, match="next try in 30 s"):
        breaker.check()
    clock.now += 30
    breaker.check()  # the trial
    with pytest.raises(LLMUnavailable):
        breaker.check()  # everyone else still fails fast during the trial
    breaker.failure()  # the trial failed: open again for 30 s
    clock.now += 29
    with pytest.raises(LLMUnavailable):
        breaker.check()
    clock.now += 1
    breaker.check()
    breaker.success()
    breaker.check()
    assert not breaker.is_open


def server_error(received):
    return 500, {"error": {"message": "CUDA out of memory", "type": "InternalServerError"}}


def test_a_failing_llm_gets_apologies_then_is_not_called_and_turns_are_kept(
    loaded_kb, settings, tmp_path
):
    with RecordingServer(server_error) as llm_server:
        llm = ChatOpenAI(
            base_url=llm_server.url + "/v1", api_key="x", model="m", timeout=5, max_retries=0
        )
        failed = FailedTurnLog(tmp_path / "failed-turns.jsonl")
        engine = Engine(
            FaqRetriever(search=HybridSearch(loaded_kb.store), k=4),
            llm,
            min_confidence=settings.answers.min_confidence,
            rewrite_follow_ups=False,
            breaker=CircuitBreaker(failures=3, reset_s=60),
            failed_turns=failed,
        )
        questions = [
            "Can I pay with PayPal?",
            "¿Aceptan PayPal?",
            "Acceptez-vous PayPal ?",
            "Kann ich mit PayPal bezahlen?",
        ]
        replies = []
        for n, question in enumerate(questions):
            reply = engine.answer(Turn(question, conversation_id=f"c{n}", channel="web"))
            replies.append((reply.final(), reply))
            if n < 3:
                assert len(llm_server.received) == n + 1
        assert len(llm_server.received) == 3  # the fourth turn did not wait for the LLM
        assert [text for text, _ in replies] == [
            message("llm_unavailable", lang) for lang in ("en", "es", "fr", "de")
        ]
        assert [r.error for _, r in replies] == ["OpenAIAPIError"] * 3 + ["LLMUnavailable"]
        kept = failed.read()
        assert [(k["conversation"], k["text"], k["stage"]) for k in kept] == [
            (f"c{n}", q, "llm") for n, q in enumerate(questions)
        ]
        assert kept[1]["language"] == "es" and kept[0]["channel"] == "web"


def test_a_store_failure_is_kept_for_a_follow_up_too(settings, tmp_path):
    class BrokenSearch:
        def search(self, query, k):
            raise ConnectionError("chroma is down")

    failed = FailedTurnLog(tmp_path / "failed-turns.jsonl")
    engine = Engine(
        FaqRetriever.model_construct(search=BrokenSearch(), k=4),
        lambda: None,
        min_confidence=settings.answers.min_confidence,
        failed_turns=failed,
    )
    assert engine.answer(Turn("¿Aceptan PayPal?", conversation_id="s1")).final() == message(
        "llm_unavailable", "es"
    )
    [kept] = failed.read()
    assert kept["stage"] == "retrieval" and kept["error"] == "ConnectionError"


def test_cli_lists_the_failed_turns(cli_env):
    import json

    from typer.testing import CliRunner

    from adapters.cli.app import app
    from bot.failed_turns import open_failed_turn_log

    assert "No turn failed." in CliRunner().invoke(app, ["conversations", "failed"]).output
    open_failed_turn_log(cli_env)(
        {
            "at": 0,
            "conversation": "web:c1",
            "channel": "web",
            "user": "",
            "text": "¿Aceptan PayPal?",
            "language": "es",
            "stage": "llm",
            "error": "APITimeoutError",
        }
    )
    listed = CliRunner().invoke(app, ["conversations", "failed"])
    assert listed.exit_code == 0
    assert (
        "1970-01-01 00:00:00 UTC  web:c1  [llm: APITimeoutError]  ¿Aceptan PayPal?" in listed.output
    )
    as_json = json.loads(CliRunner().invoke(app, ["conversations", "failed", "--json"]).output)
    assert as_json[0]["conversation"] == "web:c1"


def test_the_server_kind_is_asked_from_the_server_itself(settings):
    from bot.llm import server_kind
    from bot.llm_server import resolve_endpoint
    from tests.web_server import free_port

    embedded = resolve_endpoint(settings)  # the real llama.cpp server, as if it were external
    external = settings.updated(
        {"llm.url": embedded.url, "llm.api_key": SecretStr(embedded.api_key)}
    )
    assert server_kind(external) == "llama.cpp"  # so it gets repeat_penalty, its own name
    assert server_kind(settings) == "llama.cpp"  # the embedded server itself
    nothing = settings.updated({"llm.url": f"http://127.0.0.1:{free_port()}/v1"})
    assert server_kind(nothing) == "vllm"
    assert server_kind(external.updated({"llm.server": "vllm"})) == "vllm"
