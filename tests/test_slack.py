"""The Slack adapter: the real slack-bolt app and slack_sdk client, with Slack's servers
replaced at the network boundary (tests/fake_slack.py): signed Events API POSTs into the app's
/slack/events, the Web API at ``base_url``, and a Socket Mode WebSocket. The bot core, Chroma,
the embeddings and the llama.cpp server are real."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr

from adapters.slack.blocks import answer_blocks, read_button_value, to_mrkdwn
from bot.answer_checks import figure_problems
from bot.conversations import conversation_key
from bot.engine import Citation, Reply
from bot.messages import message
from common.language import detect_language
from tests.fake_slack import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM,
    FakeSlack,
    block_action,
    channel_message,
    event_callback,
    mention,
    signed_headers,
    slash_command,
)
from tests.recording_server import RecordingServer
from tests.web_server import FileServer, LiveApp

ADMIN, CUSTOMER, GROUP_ADMIN = "U0ADMIN", "U0ALICE", "U0GROUP"


@pytest.fixture
def slack(loaded_kb, settings):
    """``with slack(**settings) as (fake, url, engine)``: the web app with the Slack adapter
    mounted (Events API), or connected over Socket Mode when ``socket=True``."""
    from adapters.slack.runner import start_slack
    from adapters.web.app import create_app
    from runtime import build_engine

    @contextmanager
    def start(socket: bool = False, changes: dict | None = None):
        with FakeSlack() as fake:
            if socket:
                fake.start_socket_mode()
            config = settings.updated(
                {
                    "slack.bot_token": SecretStr(BOT_TOKEN),
                    "slack.api_url": fake.api_url,
                    "slack.signing_secret": SecretStr(SIGNING_SECRET),
                    "slack.app_token": SecretStr(APP_TOKEN) if socket else None,
                    "slack.admin_user_ids": [ADMIN],
                    "slack.admin_usergroup": "S0ADMINS",
                    "slack.update_interval_s": 0.3,
                    **(changes or {}),
                }
            )
            fake.usergroups["S0ADMINS"] = [GROUP_ADMIN]
            engine = build_engine(config, store=loaded_kb.store)
            web_app = create_app(config, engine, loaded_kb)
            running = start_slack(config, engine, loaded_kb, web_app)
            try:
                with LiveApp(web_app) as url:
                    yield fake, url, engine
            finally:
                running.stop()

    return start


INTERNATIONAL = (
    "Orders to countries outside the European Union arrive in 7 to 14 business days "
    "with standard international shipping. Express international shipping takes 3 "
    "to 5 business days and costs €24.90."
)
SHIPPING_COST = (
    "Standard shipping within the EU is free for orders over €50; below that it "
    "costs €4.95. Standard international shipping costs €14.90 for any order size."
)


def post_event(
    url: str, payload: dict, *, retry_num: int | None = None, secret: str = SIGNING_SECRET
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(
        url + "/slack/events",
        content=body,
        timeout=10,
        headers=signed_headers(
            body, secret=secret, content_type="application/json", retry_num=retry_num
        ),
    )


def post_form(url: str, form: dict) -> httpx.Response:
    body = urlencode(form).encode()
    return httpx.post(
        url + "/slack/events",
        content=body,
        timeout=10,
        headers=signed_headers(body, content_type="application/x-www-form-urlencoded"),
    )


def posted_in(fake: FakeSlack, channel: str, thread_ts: str | None):
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == channel and c.args.get("thread_ts") == thread_ts
    ]


def ts_of(call) -> str:
    """The ts Slack gave the message that chat.postMessage call posted."""
    return call.response["ts"]


def section_text(update) -> str:
    return "\n".join(b["text"]["text"] for b in update.args["blocks"] if b["type"] == "section")


def block(update, kind: str) -> dict:
    return next(b for b in update.args["blocks"] if b["type"] == kind)


# --- formatting, without Slack ---------------------------------------------------------------


def test_model_text_becomes_safe_mrkdwn():
    text = to_mrkdwn(
        "**Free** returns within [30 days](https://shop.example/returns) <!channel> & co"
    )
    assert text == (
        "*Free* returns within <https://shop.example/returns|30 days> &lt;!channel&gt; &amp; co"
    )


def test_answer_blocks_carry_citations_buttons_and_split_long_text():
    reply = Reply(
        "fr",
        0.9,
        [Citation(1, "e1", "Retours <gratuits>", "https://s.example/r", "faq", 0.9)],
        True,
    )
    blocks = answer_blocks(reply, "Mot " * 1000, "slack:T:C:1")
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == 2 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert block_text(blocks, "context") == (
        f"*{message('sources', 'fr')}:* <https://s.example/r|[1] Retours &lt;gratuits&gt;>"
    )
    buttons = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == [
        "linguadesk_feedback_up",
        "linguadesk_feedback_down",
        "linguadesk_handoff",
    ]
    assert message("talk_to_human", "fr") in buttons[2]["text"]["text"]
    assert read_button_value(buttons[0]["value"]) == ("slack:T:C:1", reply.id)


def test_a_hostile_citation_url_or_title_cannot_ping_a_channel():
    reply = Reply(
        "en",
        0.9,
        [
            Citation(
                1,
                "e1",
                "<!here> Returns",
                "https://a.example/x><!channel><https://b.example",
                "faq",
                0.9,
            )
        ],
        True,
    )
    blocks = answer_blocks(reply, "See https://shop.example/help. <!everyone>", "slack:T:C:1")
    context = block_text(blocks, "context")
    assert context.count("<") == 1 and context.count(">") == 1, context  # one link, nothing else
    assert "&lt;!channel&gt;" in context and "&lt;!here&gt;" in context
    section = next(b for b in blocks if b["type"] == "section")["text"]
    assert section["verbatim"] is True
    assert section["text"] == "See <https://shop.example/help>. &lt;!everyone&gt;"


def block_text(blocks, kind):
    return next(b for b in blocks if b["type"] == kind)["elements"][0]["text"]


# --- the Events API -------------------------------------------------------------------------


@pytest.mark.llm
def test_a_mention_is_answered_once_in_its_thread_streaming_then_follow_ups_need_no_mention(slack):
    with slack() as (fake, url, engine):
        started = time.monotonic()
        event = event_callback(
            mention("How long does international shipping take?", ts="1699999001.000100"),
            event_id="Ev0MENTION",
        )
        first = post_event(url, event)
        acknowledged = time.monotonic() - started
        # Slack retries a delivery it thinks was slow: same event_id, X-Slack-Retry-Num.
        retried = post_event(url, event, retry_num=1)
        assert first.status_code == retried.status_code == 200
        assert acknowledged < 3.0, acknowledged

        posted = fake.wait_for(lambda calls: posted_in(fake, "C0SUPPORT", "1699999001.000100"))
        final = fake.final_update("C0SUPPORT", ts_of(posted[0]))
        text = section_text(final)
        assert figure_problems(text, [INTERNATIONAL], "") == [], text  # the entry's figures only
        assert (
            "<https://" in block(final, "context")["elements"][0]["text"]
            or "[1]" in block(final, "context")["elements"][0]["text"]
        )
        assert len(block(final, "actions")["elements"]) == 3
        # Streamed: the placeholder was edited while the answer was written, at most once
        # per slack_update_interval_s (0.3 s here).
        edits = [c for c in fake.calls_to("chat.update") if c is not final]
        assert all(e.args["text"].endswith("…") for e in edits)
        assert len(edits) <= (final.at - posted[0].at) / 0.3 + 1, len(edits)
        assert len(posted_in(fake, "C0SUPPORT", "1699999001.000100")) == 1  # not twice

        # Chatter in the channel is not for the bot; a reply in its thread is.
        post_event(url, event_callback(channel_message("lunch anyone?", ts="1699999002.000100")))
        post_event(
            url,
            event_callback(
                channel_message(
                    "And how much does express shipping cost?",
                    ts="1699999003.000100",
                    thread_ts="1699999001.000100",
                )
            ),
        )
        follow_up = fake.wait_for(
            lambda calls: (
                len(posted_in(fake, "C0SUPPORT", "1699999001.000100")) == 2
                and posted_in(fake, "C0SUPPORT", "1699999001.000100")
            )
        )[1]
        final = fake.final_update("C0SUPPORT", ts_of(follow_up))
        # Answered in the thread from one shipping entry (which one is retrieval's call: the
        # express price is in the international one), with that entry's figures.
        follow_text = section_text(final)
        assert (
            "€" in follow_text
            and figure_problems(follow_text, [INTERNATIONAL, SHIPPING_COST], "") == []
        ), follow_text
        assert posted_in(fake, "C0SUPPORT", None) == []  # nothing top-level, nothing to chatter
        key = conversation_key("slack", TEAM, "C0SUPPORT", "1699999001.000100")
        assert [m.role for m in engine.conversations.messages(key)] == ["human", "ai"] * 2


def test_requests_without_slacks_signature_are_refused(slack):
    with slack() as (fake, url, engine):
        event = event_callback(mention("Hello?", ts="1699999101.000100"))
        response = post_event(url, event, secret="not-the-signing-secret")
        assert response.status_code == 401
        time.sleep(1.0)
        assert fake.calls_to("chat.postMessage") == []


@pytest.mark.llm
def test_a_dm_is_answered_in_the_customers_language_through_a_rate_limit(slack):
    with slack() as (fake, url, engine):
        fake.locales[CUSTOMER] = "es-ES"
        fake.rate_limited["chat.update"] = 1  # Slack answers 429 + Retry-After: 1
        post_event(
            url,
            event_callback(
                channel_message(
                    "¿Cuánto tiempo tengo para devolver un producto?",
                    channel="D0ALICE",
                    ts="1699999201.000100",
                    channel_type="im",
                )
            ),
        )
        posted = fake.wait_for(lambda calls: posted_in(fake, "D0ALICE", None))[0]
        final = fake.final_update("D0ALICE", ts_of(posted))
        text = section_text(final)
        assert detect_language(text).language == "es", text
        assert block(final, "context")  # cited
        assert "👍 " + message("feedback_helpful", "es") in json.dumps(
            final.args["blocks"], ensure_ascii=False
        )
        # The 429 was waited out (Retry-After: 1) and the same edit sent again.
        updates = fake.calls_to("chat.update")
        limited = [c for c in updates if c.response == {"ok": False, "error": "ratelimited"}]
        assert len(limited) == 1
        retry = updates[updates.index(limited[0]) + 1]
        assert retry.args == limited[0].args and retry.at - limited[0].at >= 0.9


# --- buttons ----------------------------------------------------------------------------------


@pytest.mark.llm
def test_feedback_is_kept_and_talk_to_a_person_hands_the_thread_over(slack):
    with (
        RecordingServer() as webhook,
        slack(changes={"handoff.webhook_url": webhook.url}) as (fake, url, engine),
    ):
        post_event(url, event_callback(mention("Can I pay with PayPal?", ts="1699999301.000100")))
        posted = fake.wait_for(lambda calls: posted_in(fake, "C0SUPPORT", "1699999301.000100"))[0]
        message_ts = ts_of(posted)
        final = fake.final_update("C0SUPPORT", message_ts)
        up, _, human = block(final, "actions")["elements"]

        response = post_form(
            url,
            {
                "payload": json.dumps(
                    block_action(
                        up["action_id"],
                        up["value"],
                        message_ts=message_ts,
                        thread_ts="1699999301.000100",
                        response_url=fake.response_url(),
                    )
                )
            },
        )
        assert response.status_code == 200
        thanks = fake.wait_for(lambda calls: fake.calls_to("chat.postEphemeral"))[0]
        assert thanks.args["user"] == CUSTOMER and thanks.args["thread_ts"] == "1699999301.000100"
        assert thanks.args["text"] == message("feedback_thanks", "en")
        key = conversation_key("slack", TEAM, "C0SUPPORT", "1699999301.000100")
        assert [f.rating for f in engine.conversations.feedback(key)] == ["up"]

        post_form(
            url,
            {
                "payload": json.dumps(
                    block_action(
                        human["action_id"],
                        human["value"],
                        message_ts=message_ts,
                        thread_ts="1699999301.000100",
                        response_url=fake.response_url(),
                    )
                )
            },
        )
        told = fake.wait_for(
            lambda calls: (
                len(posted_in(fake, "C0SUPPORT", "1699999301.000100")) == 2
                and posted_in(fake, "C0SUPPORT", "1699999301.000100")[1]
            )
        )
        assert told.args["text"] == message("handoff_started", "en")
        assert webhook.arrived.wait(120)
        assert json.loads(webhook.received[0].body)["conversation"] == key
        assert engine.conversations.state(key).handed_off

        # A person has the thread now: the bot keeps quiet there.
        post_event(
            url,
            event_callback(
                channel_message(
                    "Hello? Anyone there?", ts="1699999303.000100", thread_ts="1699999301.000100"
                )
            ),
        )
        fake.wait_for(lambda calls: len(engine.conversations.messages(key)) >= 4, timeout=30)
        assert len(posted_in(fake, "C0SUPPORT", "1699999301.000100")) == 2


# --- /kb ---------------------------------------------------------------------------------------


def test_kb_is_refused_politely_and_privately_to_everyone_but_admins(slack, loaded_kb):
    with slack() as (fake, url, engine):
        fake.locales["U0BOB"] = "ja-JP"
        sources = loaded_kb.sources()
        response = post_form(
            url, slash_command("delete faq.md", user="U0BOB", response_url=fake.response_url())
        )
        assert response.status_code == 200 and response.text == ""  # acknowledged at once
        fake.wait_for(lambda calls: fake.calls_to("response_url"))
        time.sleep(0.5)
        assert [c.args for c in fake.calls_to("response_url")] == [
            {
                "response_type": "ephemeral",
                "replace_original": False,
                "text": message("kb_admins_only", "ja"),
            }
        ]
        assert loaded_kb.sources() == sources  # nothing was deleted


def test_admins_run_kb_status_search_ingest_and_delete(slack, loaded_kb, tmp_path):
    faq = "# Gift cards\n\n## Do you sell gift cards?\nYes, gift cards from €10 to €200, valid for two years.\n"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "gifts.md").write_text(faq)
    with (
        FileServer(tmp_path / "site") as site,
        slack(changes={"web.ingest_private_urls": True}) as (fake, url, engine),
    ):

        def run(text: str, user: str = ADMIN) -> str:
            before = len(fake.calls_to("response_url"))
            ack = post_form(url, slash_command(text, user=user, response_url=fake.response_url()))
            assert ack.status_code == 200
            working, done = fake.wait_for(
                lambda calls: (
                    len(fake.calls_to("response_url")) >= before + 2
                    and fake.calls_to("response_url")[before : before + 2]
                ),
                timeout=120,
            )
            assert working.args["text"] == message("kb_working", "en")
            assert done.args["response_type"] == "ephemeral"
            return done.args["text"]

        status = run("status")
        stats = loaded_kb.stats()
        assert status.startswith(
            message("kb_status", "en").format(
                entries=stats.entries,
                sources=len(stats.by_source),
                languages=", ".join(f"{c} ({n})" for c, n in stats.by_language.most_common()),
            )
        )
        assert all(f"`{source}`" in status for source in stats.by_source)

        found = run("search can I return an item", user=GROUP_ADMIN)  # admin through the group
        assert (
            found.startswith(
                message("kb_search_results", "en").format(query="can I return an item")
            )
            and "•" in found
        )

        file_id = fake.add_file("gift-cards.md", faq.encode())
        ingested = run(f"ingest https://test.slack.com/files/{ADMIN}/{file_id}/gift-cards.md")
        assert "`upload:gift-cards.md`: 1 added" in ingested, ingested
        assert fake.calls_to("file")[0].headers["authorization"] == f"Bearer {BOT_TOKEN}"

        ingested = run(f"ingest <{site}/gifts.md>")  # Slack wraps links in <>
        assert ": 1 added" in ingested, ingested
        assert "gift cards" in engine.retriever.invoke("gift cards")[0].page_content

        deleted = run("delete upload:gift-cards.md")
        assert deleted == message("kb_deleted", "en").format(
            source="`upload:gift-cards.md`", count=1
        )
        unknown = run("delete nope.md")
        assert unknown == message("kb_unknown_source", "en").format(source="`nope.md`")
        before = len(fake.calls_to("response_url"))
        post_form(url, slash_command("", user=ADMIN, response_url=fake.response_url()))
        usage = fake.wait_for(lambda calls: fake.calls_to("response_url")[before:])[0]
        assert usage.args["text"] == message("kb_usage", "en")


def test_admins_can_share_files_in_a_dm_with_the_comment_kb_ingest(slack):
    with slack() as (fake, url, engine):
        file_id = fake.add_file(
            "returns-de.md",
            "# Rückgabe\n\n## Wie lange habe ich Zeit?\n30 Tage ab Lieferung.\n".encode(),
        )
        for user in ("U0BOB", ADMIN):
            event = channel_message(
                "kb ingest",
                channel="D0" + user[2:],
                user=user,
                ts=f"169999960{len(user)}.0001",
                channel_type="im",
            )
            post_event(
                url,
                event_callback(
                    {
                        **event,
                        "subtype": "file_share",
                        "files": [{"id": file_id, "name": "returns-de.md"}],
                    }
                ),
            )
        refused = fake.wait_for(lambda calls: posted_in(fake, "D0BOB", None))[0]
        assert refused.args["text"] == message("kb_admins_only", "en")
        done = fake.wait_for(lambda calls: posted_in(fake, "D0ADMIN", None), timeout=60)[0]
        assert "`upload:returns-de.md`: 1 added" in done.args["text"], done.args["text"]
        assert len(fake.calls_to("file")) == 1  # the member's share was not even downloaded


# --- Socket Mode ------------------------------------------------------------------------------


@pytest.mark.llm
def test_socket_mode_acknowledges_envelopes_and_answers_each_event_once(slack):
    with slack(socket=True) as (fake, url, engine):
        event = event_callback(
            mention("Do you ship to Canada?", ts="1699999401.000100"), event_id="Ev0SOCKET"
        )
        first = fake.push("events_api", event)
        assert fake.wait_for_ack(first, timeout=3)
        again = fake.push("events_api", event, retry_attempt=1)
        assert fake.wait_for_ack(again, timeout=3)
        posted = fake.wait_for(lambda calls: posted_in(fake, "C0SUPPORT", "1699999401.000100"))[0]
        final = fake.final_update("C0SUPPORT", ts_of(posted))
        assert section_text(final)
        assert len(posted_in(fake, "C0SUPPORT", "1699999401.000100")) == 1

        refused = fake.push(
            "slash_commands",
            slash_command("status", user="U0BOB", response_url=fake.response_url()),
        )
        assert fake.wait_for_ack(refused, timeout=3)
        told = fake.wait_for(lambda calls: fake.calls_to("response_url"))[0]
        assert told.args["text"] == message("kb_admins_only", "en")


def test_slack_without_an_app_token_or_signing_secret_says_what_to_set(loaded_kb, settings):
    from adapters.platforms import PlatformError
    from adapters.slack.runner import start_slack
    from runtime import build_engine

    with FakeSlack() as fake:
        config = settings.updated(
            {"slack.bot_token": SecretStr(BOT_TOKEN), "slack.api_url": fake.api_url}
        )
        with pytest.raises(
            PlatformError, match="LINGUADESK_SLACK__APP_TOKEN.*LINGUADESK_SLACK__SIGNING_SECRET"
        ):
            start_slack(config, build_engine(config, store=loaded_kb.store), loaded_kb, None)


def test_a_wrong_slack_token_stops_serve_with_what_to_do(loaded_kb, cli_env, monkeypatch):
    from typer.testing import CliRunner

    from adapters.cli.app import app
    from linguadesk.settings import get_settings

    with FakeSlack() as fake:
        monkeypatch.setenv("LINGUADESK_SLACK__BOT_TOKEN", "xoxb-revoked")
        monkeypatch.setenv("LINGUADESK_SLACK__APP_TOKEN", APP_TOKEN)
        monkeypatch.setenv("LINGUADESK_SLACK__API_URL", fake.api_url)
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "Slack refused the bot token" in result.output and "invalid_auth" in result.output
    assert "xoxb-revoked" not in result.output  # never the token itself
