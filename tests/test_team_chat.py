"""The two-way handoff: an agent in the Slack handoff thread (the real slack-bolt app against
tests/fake_slack.py) and a customer in the real Chromium widget or a Discord DM (the real
discord.py client against tests/fake_discord.py), each in their own language, through the
real llama.cpp server. Plus what must hold without the model: nothing lost when the
translation fails, the relayed fields kept by both stores, and the agent's limits."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from pydantic import SecretStr

from adapters.slack.notifier import RELEASE_ACTION, TAKE_ACTION
from bot.conversations import (
    ConversationState,
    Message,
    RedisConversationStore,
    Role,
    SqliteConversationStore,
    conversation_key,
    conversation_parts,
)
from bot.messages import message
from bot.team_chat import (
    AgentMessageRefused,
    MessageTranslator,
    NotHandedOff,
    TeamChat,
    release_to_bot,
    unwrapped,
)
from common.language import detect_language
from tests.conftest import EXAMPLES, ROOT
from tests.fake_slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    block_action,
    channel_message,
    event_callback,
)
from tests.test_slack import post_event, post_form
from tests.web_server import LiveApp

HANDOFF_CHANNEL = "C0HANDOFF"
AGENT = "U0AGENT"
ADMIN_KEY = "team-chat-test-admin-key-0123456789"


class _Down(GenericFakeChatModel):
    """An LLM server that is down (the failure mode under test)."""

    def _generate(self, *args, **kwargs):
        raise httpx.ConnectError("connection refused")


def _handed_off(store, key: str, language: str) -> None:
    store.append(key, Message(Role.HUMAN, "hi", language))
    store.save_state(key, ConversationState(language=language, handed_off=True))


# --- without the model ------------------------------------------------------------------------


def test_an_agent_message_is_sent_as_written_and_marked_when_the_translation_fails():
    store = SqliteConversationStore(":memory:")
    team = TeamChat(store, MessageTranslator(lambda: _Down(messages=iter([]))))
    key = conversation_key("discord", "dm", 42)
    _handed_off(store, key, "ja")
    sent = team.from_agent(key, "Your refund of $12.50 was sent today.", agent="Anna")
    assert (
        sent.relayed.untranslated and sent.message.text == "Your refund of $12.50 was sent today."
    )
    kept = store.messages(key)[-1]
    assert (kept.role, kept.author, kept.untranslated) == (Role.AGENT, "Anna", True)
    # The Discord adapter gets it once, and only it.
    assert team.undelivered("slack") == []
    [(got_key, [waiting])] = team.undelivered("discord")
    assert got_key == key and waiting.text == kept.text
    team.delivered(key, waiting.at)
    assert team.undelivered("discord") == []
    assert store.to_deliver() == []


def test_a_refusal_in_place_of_the_translation_is_not_passed_on(use_encoder):
    """The embedded model once "translated" a Spanish customer for an Arabic agent as "I'm
    sorry, I can't help you with this". The real USE encoder tells it from a translation."""
    from langchain_core.messages import AIMessage

    def translator(*outputs: str) -> MessageTranslator:
        replies = iter([AIMessage(content=o) for o in outputs])
        return MessageTranslator(lambda: GenericFakeChatModel(messages=replies), use_encoder.encode)

    asked = "Hola, mi pedido llegó roto. ¿Qué hago?"
    refused = translator(*["أعتذر، ولكنني لا أستطيع مساعدتك في هذا."] * 2).translate(
        asked, "es", "ar"
    )
    assert refused.untranslated and refused.text == asked  # the original goes, marked
    second = translator(
        "أعتذر، ولكنني لا أستطيع مساعدتك في هذا.", "مرحبًا، وصل طلبي مكسورًا. ماذا أفعل؟"
    )
    done = second.translate(asked, "es", "ar")
    assert not done.untranslated and done.text == "مرحبًا، وصل طلبي مكسورًا. ماذا أفعل؟"


def test_a_translation_the_model_wrapped_in_a_tag_of_its_own_naming_is_unwrapped():
    # What the embedded 1.5B model answered for a Japanese customer, translated into German.
    assert unwrapped("<reply>\nIhre Schuhe sind noch nicht da.\n</reply>") == (
        "Ihre Schuhe sind noch nicht da."
    )
    assert unwrapped("<return>Bis zu 30 Tage [1].</return>") == "Bis zu 30 Tage [1]."
    preamble = (
        "Hier ist die Übersetzung in German:\n\n<message>\nKann ich es zurückgeben?\n</message>"
    )
    assert unwrapped(preamble) == "Kann ich es zurückgeben?"
    # Markup inside a message, or tags that do not match, are the message's own.
    assert unwrapped("Tippen Sie <b>Senden</b>") == "Tippen Sie <b>Senden</b>"
    assert unwrapped("<a>x</b>") == "<a>x</b>"
    assert unwrapped("Drücken Sie <b>Senden</b>") == "Drücken Sie <b>Senden</b>"
    assert unwrapped("Utilisez ce code : <b>SAVE10</b>") == "Utilisez ce code : <b>SAVE10</b>"
    assert unwrapped("<a>" + " " * 50_000) == "<a>"  # at once: no backtracking


def test_agents_cannot_write_to_a_conversation_the_bot_has_or_flood_one():
    store = SqliteConversationStore(":memory:")
    team = TeamChat(store, None, agent_rate="2/minute")
    key = conversation_key("web", "c1")
    store.append(key, Message(Role.HUMAN, "hello", "en"))
    with pytest.raises(NotHandedOff):
        team.from_agent(key, "hello")
    _handed_off(store, key, "en")
    with pytest.raises(AgentMessageRefused) as refused:
        team.from_agent(key, "x" * 4001)
    assert refused.value.reason == "too_long" and "4000" in str(refused.value)
    team.from_agent(key, "one")
    team.from_agent(key, "two")
    with pytest.raises(AgentMessageRefused) as refused:
        team.from_agent(key, "three")
    assert refused.value.reason == "rate_limited"
    assert [m.text for m in store.messages(key) if m.role == Role.AGENT] == ["one", "two"]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_the_relayed_fields_and_the_release_notice_survive_the_store(backend, request, tmp_path):
    if backend == "redis":
        store = RedisConversationStore(
            request.getfixturevalue("redis_url"), prefix=f"t{time.time()}"
        )
    else:
        store = SqliteConversationStore(tmp_path / "c.sqlite3")
    key = conversation_key("slack", "T1", "C:odd", "1700.1")
    assert conversation_parts(key) == ["slack", "T1", "C:odd", "1700.1"]
    _handed_off(store, key, "de")
    store.append(
        key,
        Message(Role.AGENT, "Hallo", "de", id="m1", author="Anna", original="Hello"),
    )
    team = TeamChat(store, None)
    assert team.release(key) and not team.release(key)
    agent, notice = store.messages(key)[-2:]
    assert (agent.author, agent.original, agent.untranslated) == ("Anna", "Hello", False)
    assert notice.notice and notice.text == message("handoff_released", "de")
    assert not store.state(key).handed_off
    [(_, waiting)] = team.undelivered("slack")
    assert [m.text for m in waiting] == ["Hallo", notice.text]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_releases_at_once_tell_the_customer_once(backend, request, tmp_path):
    """The thread's button, `kb release` and the console at the same moment, from several
    workers (each its own store connection): one of them releases, one notice is sent."""
    if backend == "redis":
        prefix = f"t{time.time()}"
        stores = [
            RedisConversationStore(request.getfixturevalue("redis_url"), prefix=prefix)
            for _ in range(6)
        ]
    else:
        stores = [SqliteConversationStore(tmp_path / "c.sqlite3") for _ in range(6)]
    key = conversation_key("discord", "g1", "c1", "u1")
    _handed_off(stores[0], key, "ja")
    start = threading.Barrier(len(stores))

    def release(store):
        start.wait()
        return release_to_bot(store, key)

    with ThreadPoolExecutor(len(stores)) as pool:
        released = list(pool.map(release, stores))
    assert released.count(True) == 1
    notices = [m for m in stores[0].messages(key) if m.notice]
    assert [m.text for m in notices] == [message("handoff_released", "ja")]
    state = stores[0].state(key)
    assert not state.handed_off and state.to_deliver


def test_a_release_while_a_delivery_is_being_marked_is_still_delivered():
    """The Slack loop posts the agent's message, then marks it delivered. A release kept in
    between (another thread, or another process) keeps its notice to send."""
    store = SqliteConversationStore(":memory:")
    team = TeamChat(store, None)
    key = conversation_key("slack", "T1", "C1", "1700.2")
    _handed_off(store, key, "fr")
    team.from_agent(key, "Bonjour", agent="Anna", translate=False)
    [(_, [sent])] = team.undelivered("slack")

    class ReleasedMeanwhile:
        """The store as the marking thread sees it: the release lands right after its read."""

        def __getattr__(self, name):
            return getattr(store, name)

        def messages(self, key):
            seen = store.messages(key)
            if not released:
                released.append(release_to_bot(store, key))
            return seen

    released: list[bool] = []
    marking = TeamChat(ReleasedMeanwhile(), None)
    marking.delivered(key, sent.at)
    assert released == [True]
    [(_, waiting)] = team.undelivered("slack")
    assert [m.text for m in waiting] == [message("handoff_released", "fr")]


# --- the round trip, with the model -----------------------------------------------------------


@contextmanager
def support_desk(settings, embeddings, use_encoder, *, web: bool = True):
    """The web app with the Slack adapter (Events API) and the handoff channel, over the
    sample FAQ: ``(fake_slack, url, engine, kb)``."""
    from adapters.slack.notifier import slack_handoff_notifiers
    from adapters.slack.runner import start_slack
    from adapters.web.app import create_app
    from knowledge.admin import KnowledgeBase
    from retrieval.vector_store import FaqStore
    from runtime import build_engine

    with ExitStack() as stack:
        fake = stack.enter_context(FakeSlack())
        config = settings.updated(
            {
                "slack.bot_token": SecretStr(BOT_TOKEN),
                "slack.api_url": fake.api_url,
                "slack.signing_secret": SecretStr(SIGNING_SECRET),
                "slack.update_interval_s": 0.3,
                "handoff.slack_channel": HANDOFF_CHANNEL,
                "web.admin_api_key": SecretStr(ADMIN_KEY),
            }
        )
        store = FaqStore(config, embeddings, use_encoder=use_encoder)
        kb = KnowledgeBase(store)
        assert kb.ingest([EXAMPLES]).ok
        engine = build_engine(config, store=store, notifiers=slack_handoff_notifiers(config))
        app = create_app(config, engine, kb, site=ROOT / "examples" / "demo-shop")
        running = start_slack(config, engine, kb, app)
        stack.callback(running.stop)
        url = stack.enter_context(LiveApp(app))
        yield fake, url, engine, kb, config


def handoff_post(fake: FakeSlack):
    """The handoff message in the team's channel, once posted."""
    return fake.wait_for(
        lambda calls: next(
            (
                c
                for c in fake.calls_to("chat.postMessage")
                if c.args["channel"] == HANDOFF_CHANNEL and not c.args.get("thread_ts")
            ),
            None,
        ),
        timeout=240,
    )


def in_thread(fake: FakeSlack, ts: str) -> list:
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == HANDOFF_CHANNEL and c.args.get("thread_ts") == ts
    ]


def thread_texts(call) -> str:
    """Every text element of a post's rich-text blocks."""
    blocks = call.args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    out = []
    for b in blocks:
        for element in b.get("elements", []):
            out += [e.get("text", "") for e in element.get("elements", [])]
    return "\n".join(out)


def agent_says(url: str, text: str, thread: str, ts: str) -> None:
    event = channel_message(text, channel=HANDOFF_CHANNEL, user=AGENT, ts=ts, thread_ts=thread)
    assert post_event(url, event_callback(event)).status_code == 200


def press(url: str, fake: FakeSlack, action_id: str, key: str, thread: str) -> None:
    action = block_action(
        action_id,
        key,
        user=AGENT,
        channel=HANDOFF_CHANNEL,
        message_ts=thread,
        thread_ts=None,
        response_url=fake.response_url(),
    )
    assert post_form(url, {"payload": json.dumps(action)}).status_code == 200


@pytest.mark.llm
def test_a_japanese_widget_customer_and_an_english_agent_talk_through_the_slack_thread(
    settings, embeddings, use_encoder
):
    from tests.test_widget_browser import WIDGET, ask, browser_session, open_widget

    with (
        support_desk(settings, embeddings, use_encoder) as (fake, url, engine, _, _config),
        browser_session() as browser,
        open_widget(browser, url, "ja-JP") as page,
    ):
        page.locator(f"{WIDGET} .msg.bot").first.wait_for()
        page.get_by_role("button", name=message("talk_to_human", "ja")).last.click()
        page.locator(f"{WIDGET} .msg.bot").nth(1).wait_for()
        conversation = page.evaluate(f"JSON.parse(localStorage.getItem('linguadesk:{url}')).id")
        key = conversation_key("web", conversation)

        posted = handoff_post(fake)
        thread = posted.response["ts"]
        buttons = next(b for b in posted.args["blocks"] if b["type"] == "actions")["elements"]
        assert [b["action_id"] for b in buttons] == [TAKE_ACTION, RELEASE_ACTION]
        fake.wait_for(lambda _: engine.conversations.state(key).handoff_threads, timeout=30)

        press(url, fake, TAKE_ACTION, key, thread)
        fake.wait_for(lambda _: engine.conversations.state(key).agent == AGENT.lower())

        # The agent writes English in the thread; the customer reads Japanese, signed.
        agent_says(
            url,
            "Your refund was sent today. It arrives within 5 business days.",
            thread,
            "1700000900.000100",
        )
        shown = page.locator(f"{WIDGET} .msg.agent")
        shown.wait_for(timeout=240_000)
        text = shown.locator(".body").inner_text()
        assert detect_language(text).language == "ja", text
        assert "5" in text
        assert shown.locator(".who").inner_text().startswith(AGENT.lower())
        # The agent sees what was sent, in Japanese.
        sent = fake.wait_for(
            lambda _: next(
                (c for c in in_thread(fake, thread) if c.args["text"].startswith("Sent")), None
            )
        )
        assert text.replace("\n", "") in thread_texts(sent).replace("\n", "")
        # A note to the team (//) never reaches the customer.
        agent_says(
            url, "// internal: check the refund in the payment admin", thread, "1700000901.000100"
        )

        # The customer's Japanese reply appears in the thread, with an English translation.
        with page.expect_response(lambda r: r.url.endswith("/messages")):
            page.locator(f"{WIDGET} textarea").fill("ありがとうございます。5営業日以内ですね。")
            page.keyboard.press("Enter")
        relayed = fake.wait_for(
            lambda _: next(
                (c for c in in_thread(fake, thread) if "ありがとうございます" in thread_texts(c)),
                None,
            ),
            timeout=240,
        )
        english = relayed.args["text"]
        assert detect_language(english).language == "en", english
        assert message("team_original", "en") in thread_texts(relayed)

        # Give back to the bot: the customer is told in Japanese, and the bot answers again.
        press(url, fake, RELEASE_ACTION, key, thread)
        notice = page.locator(f"{WIDGET} .msg.bot", has_text=message("handoff_released", "ja"))
        notice.wait_for(timeout=30_000)
        assert page.locator(f"{WIDGET} .msg.agent").count() == 1  # the note was not sent
        answer = ask(page, "PayPalで支払えますか？")
        assert "PayPal" in answer and detect_language(answer).language == "ja", answer
        assert not engine.conversations.state(key).handed_off


@pytest.mark.llm
def test_a_discord_dm_customer_gets_the_agents_reply_translated_and_back_to_the_bot(
    settings, embeddings, use_encoder, monkeypatch
):
    from adapters.discord.app import LinguadeskBot
    from tests.fake_discord import FakeDiscord, run_client

    with (
        support_desk(settings, embeddings, use_encoder) as (fake, url, engine, kb, config),
        FakeDiscord(locale="de-DE") as discord_fake,
    ):
        discord_fake.patch(monkeypatch)
        bot = LinguadeskBot(
            config.updated(
                {
                    "discord.bot_token": SecretStr("fake-bot-token"),
                    "discord.admin_guild_ids": [int(discord_fake.guild_id)],
                }
            ),
            engine,
            kb,
        )
        with run_client(bot):
            discord_fake.send_dm("Ich möchte mit einem Mitarbeiter sprechen.")
            key = conversation_key("discord", "dm", int(discord_fake.dm_channel_id))
            thread = handoff_post(fake).response["ts"]
            fake.wait_for(lambda _: engine.conversations.state(key).handoff_threads, timeout=30)

            agent_says(
                url,
                "Hello, I can help you with your order. Which order number is it?",
                thread,
                "1700000950.000100",
            )

            def agent_dm():
                return next(
                    (
                        m
                        for m in discord_fake.messages_in(discord_fake.dm_channel_id)
                        if m["author"]["id"] == discord_fake.bot_id
                        and m["content"].startswith("**")
                    ),
                    None,
                )

            dm = discord_fake.wait_until(agent_dm, timeout=240)
            body = dm["content"].split("\n", 1)[1]
            assert detect_language(body).language == "de", body

            press(url, fake, RELEASE_ACTION, key, thread)
            released = message("handoff_released", "de")
            discord_fake.wait_until(
                lambda: any(
                    m["content"] == released
                    for m in discord_fake.messages_in(discord_fake.dm_channel_id)
                ),
                timeout=30,
            )
            assert not engine.conversations.state(key).handed_off
            assert discord_fake.unknown_requests() == []


# --- gaps ----------------------------------------------------------------------------------


GAP_QUESTIONS = json.loads((ROOT / "tests" / "data" / "gap_questions.json").read_text("utf-8"))
CHANNELS = ("web", "slack", "discord")
REASONS = ("no_answer", "off_topic", "handoff", "thumbs_down", "fallback")


def seeded_gaps(log) -> list:
    """Every question of tests/data/gap_questions.json (8 questions the sample FAQ lacks, 2
    wordings each in 6 languages) asked by 2 or 3 customers: 240 failed turns."""
    from bot.gaps import GapTurn

    turns = []
    n = 0
    for topic, by_language in GAP_QUESTIONS.items():
        for language, questions in by_language.items():
            for wording, question in enumerate(questions):
                for _ in range(3 if wording == 0 else 2):
                    n += 1
                    turns.append(
                        GapTurn(
                            question,
                            REASONS[n % len(REASONS)],
                            language,
                            f"{CHANNELS[n % 3]}:c{n}",
                            CHANNELS[n % 3],
                            at=time.time() - n * 60,
                            id=f"{topic}-{n}",
                        )
                    )
    for turn in turns:
        log.record(turn)
    return turns


def test_gaps_merge_one_question_across_languages_and_an_approved_draft_is_found(
    settings, loaded_kb, cli_env
):
    from bot.gaps import GapLog, mine
    from runtime import build_engine

    log = GapLog(settings.data_dir / "gaps.jsonl")
    turns = seeded_gaps(log)
    assert len(turns) >= 200
    store = loaded_kb.store
    engine = build_engine(settings, store=store)
    clusters = mine(log.read(), store.encode_across_languages, hits=engine.retriever)
    topic_of = {t.id: t.id.rsplit("-", 1)[0] for t in turns}

    # Each topic has one cluster that holds most of its turns, in most of its languages, and
    # little of the others: the same question merged across languages.
    merged = 0
    for topic in GAP_QUESTIONS:
        best = max(clusters, key=lambda c: sum(topic_of[t.id] == topic for t in c.turns))
        ours = [t for t in best.turns if topic_of[t.id] == topic]
        purity = len(ours) / best.size
        if len({t.language for t in ours}) >= 4 and purity >= 0.8:
            merged += 1
    assert merged >= 6, [
        (c.size, dict(c.languages), dict(Counter(topic_of[t.id] for t in c.turns)))
        for c in clusters
    ]
    # Nothing from a single question; every cluster says what the FAQ has nearest.
    assert all(c.size >= 2 and c.closest is not None for c in clusters)
    assert all(0.0 <= c.closest["relevance"] <= 1.0 for c in clusters if c.closest)

    # The CLI shows them, filtered by language and period.
    from typer.testing import CliRunner

    from adapters.cli.main import app

    shown = CliRunner().invoke(app, ["gaps", "--language", "ja", "--no-translate", "--json"])
    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.output)
    assert listed and all(set(c["languages"]) == {"ja"} for c in listed)
    assert (
        CliRunner().invoke(app, ["gaps", "--since", "1h", "--json", "--no-translate"]).exit_code
        == 0
    )
    bad = CliRunner().invoke(app, ["gaps", "--since", "soon"])
    assert bad.exit_code == 2 and "30m, 24h, 7d" in bad.output

    # A draft with its facts left open is refused; filled in, it becomes a searchable entry.
    refused = CliRunner().invoke(
        app,
        ["gaps", "approve", "--question", "Do you offer gift wrapping?", "--answer", "[yes/no]"],
    )
    assert refused.exit_code == 2 and "placeholders" in refused.output
    approved = CliRunner().invoke(
        app,
        [
            "gaps",
            "approve",
            "--question",
            "Do you offer gift wrapping?",
            "--variant",
            "Can you wrap my order as a present?",
            "--answer",
            "Yes: choose 'Gift wrap' at checkout. It costs €3.50 per order.",
        ],
    )
    assert approved.exit_code == 0, approved.output
    fresh = build_engine(settings)
    hits = fresh.retriever.hits("ギフト包装はできますか？", 3)
    assert hits and hits[0].document.metadata["source"] == "gaps:approved"
    assert hits[0].relevance >= settings.answers.min_confidence


@pytest.mark.llm
def test_turns_the_faq_did_not_answer_and_thumbs_down_are_kept_as_gaps(settings, loaded_kb):
    from bot.reply import Status, Turn
    from runtime import build_engine

    engine = build_engine(settings, store=loaded_kb.store)
    declined = engine.answer(Turn("Wie wird das Wetter morgen in Berlin?", "web:g1", channel="web"))
    declined.final()
    answered = engine.answer(Turn("Can I pay with PayPal?", "web:g2", channel="web"))
    answered.final()
    assert answered.status == Status.ANSWERED
    assert engine.desk.rate("web:g2", answered.id, "down", channel="web")
    kept = {(t.conversation, t.reason, t.question) for t in engine.gaps.read()}
    assert ("web:g2", "thumbs_down", "Can I pay with PayPal?") in kept
    if declined.status in (Status.OFF_TOPIC, Status.NO_ANSWER):
        assert ("web:g1", declined.status.value, "Wie wird das Wetter morgen in Berlin?") in kept
    # An answer is a gap only when its drafts failed the checks (the entry's text was shown).
    fell_back = ("web:g2", "fallback", "Can I pay with PayPal?") in kept
    assert fell_back == (answered.path == "fallback")


def test_a_slack_customer_gets_the_teams_messages_in_their_thread_once(
    settings, embeddings, use_encoder
):
    with support_desk(settings, embeddings, use_encoder) as (fake, _url, engine, _kb, _config):
        key = conversation_key("slack", "T0TEAM", "C0SUPPORT", "1700000500.000100")
        _handed_off(engine.conversations, key, "fr")
        engine.team.from_agent(key, "Bonjour, ici <!channel> Anna.", agent="Anna", translate=False)

        def delivered():
            return [
                c
                for c in fake.calls_to("chat.postMessage")
                if c.args["channel"] == "C0SUPPORT"
                and c.args.get("thread_ts") == "1700000500.000100"
            ]

        [posted] = fake.wait_for(lambda _: delivered(), timeout=30)
        text = posted.args["text"]
        assert text.startswith("*" + message("agent_says", "fr").format(name="Anna") + "*")
        assert "&lt;!channel&gt;" in text  # pings nobody
        engine.team.release(key)
        fake.wait_for(lambda _: len(delivered()) == 2, timeout=30)
        assert delivered()[1].args["text"] == message("handoff_released", "fr")
        time.sleep(2.5)  # two more rounds of the delivery loop: nothing sent twice
        assert len(delivered()) == 2


def test_delivery_retries_back_off_and_give_up():
    from adapters.retries import Retries

    retries = Retries(give_up_after=3)
    assert retries.due("k")
    assert not retries.failed("k") and not retries.due("k")  # waits 1 s before the next try
    assert not retries.failed("k")
    assert retries.failed("k")  # the third failure in a row: given up
    assert retries.due("k")
