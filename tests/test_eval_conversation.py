"""`linguadesk eval conversation` and the conversation commands, through the real CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from adapters.cli.app import app
from bot.conversations import ConversationState, SqliteConversationStore
from bot.rewrite import needs_rewrite
from evaluation.benchmarks import default_root
from evaluation.conversation import load_dstc, load_language_set, summarize_language_match
from tests.conftest import ROOT

LANGUAGE_SET = ROOT / "benchmarks" / "conversation" / "language_set.json"


def test_language_set_has_ten_languages_and_twenty_questions_each():
    questions = load_language_set(LANGUAGE_SET)
    per_language: dict[str, int] = {}
    for q in questions:
        per_language[q["language"]] = per_language.get(q["language"], 0) + 1
    assert set(per_language) == {"en", "zh", "es", "fr", "de", "ja", "pt", "ar", "ko", "it"}
    assert min(per_language.values()) >= 20
    assert {q["kind"] for q in questions} == {"faq", "uncovered", "off_topic"}


def test_language_report_counts_matches_and_english_leaks():
    rows = [
        {
            "id": "es-1",
            "language": "es",
            "kind": "faq",
            "question": "q",
            "reply": "r",
            "status": "answered",
            "reply_language": "es",
            "detected": "es",
            "share": 1.0,
            "english": False,
            "match": True,
            "generated": True,
            "error": None,
            "seconds": 1.0,
            "citations": ["A"],
            "expected_entry": "A",
        },
        {
            "id": "es-2",
            "language": "es",
            "kind": "faq",
            "question": "q",
            "reply": "r",
            "status": "answered",
            "reply_language": "es",
            "detected": "en",
            "share": 0.2,
            "english": True,
            "match": False,
            "generated": True,
            "error": None,
            "seconds": 3.0,
            "citations": ["B"],
            "expected_entry": "A",
        },
    ]
    report = summarize_language_match(rows)
    es = report["languages"]["es"]
    assert es["match"] == 0.5 and es["english_leaks"] == 1 and es["faq_cited_expected"] == 1
    assert [f["id"] for f in report["failures"]] == ["es-2"]


def test_bad_test_set_is_refused_with_a_clear_message(cli_env, tmp_path):
    broken = tmp_path / "set.json"
    broken.write_text('{"questions": [{"text": "hola"}]}', "utf-8")
    result = CliRunner().invoke(app, ["eval", "conversation", "--set", str(broken)])
    assert result.exit_code == 2
    assert "is not a test set" in result.output and "language" in result.output


def test_dstc_reader_keeps_faq_turns_with_their_history():
    root = default_root()
    if not (root / "dstc11_track5" / "knowledge.json").is_file():
        pytest.skip(f"DSTC11 track 5 is not at {root} (see ../shared/benchmarks/README.md)")
    evalset, histories = load_dstc(root, limit=60)
    assert len(evalset.queries) == 60 and len(evalset.entries) > 2000
    ids = {e.id for e in evalset.entries}
    assert all(q.gold and q.gold <= ids for q in evalset.queries)
    assert all(h and h[0].role == "human" for h in histories)
    # Most DSTC follow-ups lean on the dialogue ("Do they have free wifi?"): the cheap check
    # sends them to the rewriter.
    flagged = sum(needs_rewrite(q.text, h) for q, h in zip(evalset.queries, histories))
    assert flagged >= 0.6 * len(histories)


@pytest.mark.llm
def test_eval_conversation_cli_runs_the_real_engine(cli_env, tmp_path):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["eval", "conversation", "--languages", "es,ja", "--limit", "1", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text("utf-8"))
    assert set(report["languages"]) == {"es", "ja"} and report["overall"]["questions"] == 2
    assert all(row["reply"] for row in report["rows"])
    assert "Reply language = customer language" in result.output


def test_conversations_release_from_the_cli(cli_env):
    store = SqliteConversationStore(cli_env.data_dir / "conversations.sqlite3")
    store.save_state("web:abc", ConversationState(language="ar", handed_off=True))
    runner = CliRunner()
    listed = runner.invoke(app, ["conversations", "list"])
    assert listed.exit_code == 0 and "web:abc" in listed.output
    released = runner.invoke(app, ["conversations", "release", "web:abc"])
    assert released.exit_code == 0 and "Released web:abc" in released.output
    assert not store.state("web:abc").handed_off
    again = runner.invoke(app, ["conversations", "release", "web:abc"])
    assert again.exit_code == 1 and "not handed off" in again.output


def test_conversations_show_lists_feedback_next_to_the_rated_reply(cli_env):
    from bot.conversations import Feedback, Message

    store = SqliteConversationStore(cli_env.data_dir / "conversations.sqlite3")
    store.append(
        "web:f1",
        Message("human", "Do you ship to Japan?", "en"),
        Message("ai", "Yes, we ship to Japan.", "en", id="r1"),
    )
    store.add_feedback("web:f1", Feedback("r1", "down", "too short", "Yes, we ship to Japan."))
    shown = CliRunner().invoke(app, ["conversations", "show", "web:f1"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[lines.index("ai: Yes, we ship to Japan.") + 1] == "  feedback: 👎 too short"
