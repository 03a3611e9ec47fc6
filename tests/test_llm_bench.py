"""`linguadesk bench llm` against the real embedded llama.cpp server, and against nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.cli.app import app
from evaluation.llm_bench import QUESTIONS, Sample, rag_prompts, summarize
from tests.conftest import EXAMPLES
from tests.web_server import free_port


def test_prompts_are_the_bots_answer_prompts_in_ten_languages_and_differ_per_level():
    first, second = rag_prompts(EXAMPLES, 10), rag_prompts(EXAMPLES, 10, start=10)
    assert [p[0]["role"] for p in first] == ["system"] * 10
    assert len({p[0]["content"].split("<entries>")[0] for p in first + second}) == 1  # one prefix
    assert {q for _, q in QUESTIONS} == {p[-1]["content"].split("\n")[1] for p in first}
    assert not {p[-1]["content"] + p[0]["content"] for p in first} & {
        p[-1]["content"] + p[0]["content"] for p in second
    }
    assert all(p[0]["content"].count("\n[") >= 4 for p in first)  # four numbered entries


def test_summary_percentiles_and_rates():
    samples = [Sample(0.5, 2.5, 21), Sample(1.0, 3.0, 41), Sample(None, 1.0, 0, "Timeout")]
    summary = summarize(samples, wall_s=4.0, concurrency=2)
    assert summary["errors"] == 1 and summary["output_tokens"] == 62
    assert summary["aggregate_tokens_per_s"] == 15.5
    assert summary["ttft_p50_s"] == 0.75
    assert summary["per_conversation_tokens_per_s_p50"] == 15.0  # (10 + 20) / 2


@pytest.mark.llm
def test_bench_llm_measures_the_embedded_server(cli_env, tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "llm",
            "--concurrency",
            "2",
            "--requests",
            "2",
            "--max-tokens",
            "16",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [level["concurrency"] for level in report["levels"]] == [1, 2]
    for level in report["levels"]:
        assert level["errors"] == 0 and 0 < level["ttft_p50_s"] < 60
        assert 0 < level["output_tokens"] <= 2 * 16 and level["aggregate_tokens_per_s"] > 0
    assert report["levels"][0]["aggregate_vs_baseline"] == 1.0
    assert "TTFT p50" in result.output


def test_bench_llm_against_nothing_says_so(cli_env):
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = CliRunner().invoke(app, ["bench", "llm", "--url", url, "--requests", "1"])
    assert result.exit_code == 2
    assert (
        f"Every request to {url} failed" in result.output and "APIConnectionError" in result.output
    )
