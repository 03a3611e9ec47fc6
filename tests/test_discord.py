"""The Discord adapter: the real discord.py client against a fake Discord at the network
boundary (tests/fake_discord.py: gateway WebSocket + REST v10 in Discord's wire format). The
bot core, Chroma, the embeddings and the llama.cpp server are real."""

from __future__ import annotations

import json
import re
import urllib.request
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace

import discord
import pytest
from pydantic import SecretStr

from adapters.discord.views import MESSAGE_LIMIT, message_pieces, streaming_preview
from bot.answer_checks import figure_problems
from bot.conversations import conversation_key
from bot.engine import Citation, Reply
from bot.messages import message
from common.language import detect_language
from tests.fake_discord import FakeDiscord, Perm, run_client
from tests.recording_server import RecordingServer

MESSAGE_CONTENT = 1 << 15
INTERNATIONAL = (
    "Orders to countries outside the European Union arrive in 7 to 14 business days "
    "with standard international shipping. Express international shipping takes 3 "
    "to 5 business days and costs €24.90."
)
SHIPPING_COST = (
    "Standard shipping within the EU is free for orders over €50; below that it "
    "costs €4.95. Standard international shipping costs €14.90 for any order size."
)


@pytest.fixture
def discord_bot(loaded_kb, settings, monkeypatch):
    """``with discord_bot(**settings) as (fake, bot, runner, engine)``."""
    from adapters.discord.app import LinguadeskBot
    from runtime import build_engine

    @contextmanager
    def start(
        fake: FakeDiscord | None = None,
        engine=None,
        locale: str = "en-US",
        changes: dict | None = None,
    ):
        """``fake``: an already running FakeDiscord (to restart the bot against it)."""
        with ExitStack() as stack:
            fake = fake or stack.enter_context(FakeDiscord(locale=locale))
            fake.patch(monkeypatch)
            config = settings.updated(
                {
                    "discord.bot_token": SecretStr("fake-bot-token"),
                    "discord.update_interval_s": 0.3,
                    "discord.admin_guild_ids": [int(fake.guild_id)],
                    **(changes or {}),
                }
            )
            engine = engine or build_engine(config, store=loaded_kb.store)
            bot = LinguadeskBot(config, engine, loaded_kb)
            with run_client(bot) as runner:
                yield fake, bot, runner, engine
            assert fake.unknown_requests() == []

    return start


def bot_posts(fake: FakeDiscord, channel_id: str) -> list[dict]:
    return [m for m in fake.messages_in(channel_id) if m["author"]["id"] == fake.bot_id]


def finished(
    fake: FakeDiscord, channel_id: str, count: int = 1, timeout: float = 180
) -> list[dict]:
    """The bot's messages in the channel once ``count`` of them carry buttons (finished)."""

    def done():
        posts = bot_posts(fake, channel_id)
        return posts if sum(1 for m in posts if m.get("components")) >= count else None

    return fake.wait_until(done, timeout=timeout)


def custom_ids(msg: dict) -> list[str]:
    return [c["custom_id"] for row in msg["components"] for c in row["components"]]


# --- without Discord -----------------------------------------------------------------------


def test_long_answers_split_at_discords_limit_and_previews_fit():
    text = ("A sentence of a long answer. " * 200).strip()
    pieces = message_pieces(text)
    assert len(pieces) == 3 and all(len(p) <= MESSAGE_LIMIT for p in pieces)
    assert " ".join(pieces) == text and all(p.endswith(".") for p in pieces)
    assert (
        len(streaming_preview(text)) == MESSAGE_LIMIT
        and streaming_preview(text).endswith(text[-100:])
        and streaming_preview("Hi …") == "Hi …"
    )


# --- answering ------------------------------------------------------------------------------


@pytest.mark.llm
def test_a_mention_is_answered_streaming_with_an_embed_and_buttons(discord_bot):
    with discord_bot() as (fake, bot, runner, engine):
        assert fake.intents & MESSAGE_CONTENT  # the privileged intent is asked for
        channel = fake.text_channel_id
        fake.rate_limit_next("PATCH", rf"^/channels/{channel}/messages/\d+$", retry_after=0.3)
        asked = fake.send_message(
            channel, "How long does international shipping take?", mentions_bot=True
        )
        fake.send_message(channel, "lunch anyone?")  # not for the bot
        fake.dispatch("MESSAGE_CREATE", asked)  # a replay (e.g. after a resumed session)
        [answer] = finished(fake, channel)
        assert answer["message_reference"]["message_id"] == asked["id"]
        # The entry's figures (7 to 14 days, 3 to 5 for express, €24.90), none other.
        assert figure_problems(answer["content"], [INTERNATIONAL], "") == [], answer["content"]
        assert answer["embeds"][0]["title"] == message("sources", "en")
        assert "[1]" in answer["embeds"][0]["description"]
        ids = custom_ids(answer)
        assert [i.split(":")[1] for i in ids] == ["up", "down", "human"]
        assert ids[0].endswith(":" + fake.member["user"]["id"])  # whose conversation it is
        # Streamed: edited while written (through one 429, which discord.py waited out).
        versions = fake.message_history(answer["id"])
        assert versions[0]["content"] == message("widget_thinking", "en")
        if len(versions) > 2:  # a draft written over time (not the entry's own text at once)
            assert any(v["content"].endswith("…") for v in versions[1:-1])
        patches = [r for r in fake.requests if r.method == "PATCH"]
        assert patches[0].status == 429 and any(r.status == 200 for r in patches)
        runner.settle(fake)
        assert len(bot_posts(fake, channel)) == 1  # nothing for the chatter
        # Nothing the bot writes pings anyone.
        [posted] = [
            r
            for r in fake.requests
            if r.method == "POST" and r.path == f"/channels/{channel}/messages"
        ]
        assert posted.json["allowed_mentions"]["parse"] == []
        # The buttons are the asker's: somebody else gets a private "not yours".
        clicked = fake.click_button(answer["id"], ids[2], user=fake.admin)
        refusal = fake.wait_for_callback(clicked).json["data"]
        assert refusal["content"] == message("buttons_not_yours", "en") and refusal["flags"] == 64
        key = conversation_key(
            "discord", int(fake.guild_id), int(channel), int(fake.member["user"]["id"])
        )
        assert not engine.conversations.state(key).handed_off


@pytest.mark.llm
def test_each_question_gets_a_thread_where_follow_ups_need_no_mention(discord_bot):
    with discord_bot(changes={"discord.thread_channels": [0]}) as (fake, bot, runner, engine):
        bot.linguadesk.settings.discord.thread_channels[:] = [int(fake.text_channel_id)]
        fake.send_message(fake.text_channel_id, "Do you ship to Canada?")
        thread = fake.wait_until(
            lambda: (fake.threads_in(fake.text_channel_id) or [None])[0], timeout=60
        )
        assert thread["name"] == "Do you ship to Canada?"
        finished(fake, thread["id"])
        fake.send_message(thread["id"], "How much does express shipping cost?")
        second = finished(fake, thread["id"], count=2)[-1]
        # Answered in the thread from one shipping entry (the express price is in the
        # international one; which entry wins is retrieval's call), with its figures only.
        assert (
            "€" in second["content"]
            and figure_problems(second["content"], [INTERNATIONAL, SHIPPING_COST], "") == []
        ), second["content"]
        key = conversation_key("discord", int(fake.guild_id), int(thread["id"]))
        assert [m.role for m in engine.conversations.messages(key)] == ["human", "ai"] * 2


@pytest.mark.llm
def test_new_forum_posts_and_dms_are_answered(discord_bot):
    with discord_bot(changes={"discord.forum_channels": [0]}) as (fake, bot, runner, engine):
        bot.linguadesk.settings.discord.forum_channels[:] = [int(fake.forum_channel_id)]
        thread = fake.create_thread(
            fake.forum_channel_id,
            "Paiement",
            owner_id=fake.member,
            starter_content="Puis-je payer avec PayPal ?",
        )
        [answer] = finished(fake, thread["id"])
        assert detect_language(answer["content"]).language == "fr", answer["content"]

        fake.send_dm("Kann ich meine Bestellung zurückgeben?")
        [dm] = finished(fake, fake.dm_channel_id)
        assert detect_language(dm["content"]).language == "de", dm["content"]


def test_a_long_answer_continues_in_more_messages_with_the_buttons_on_the_last(discord_bot):
    with discord_bot() as (fake, bot, runner, engine):
        channel = bot.get_channel(int(fake.text_channel_id))
        reply = Reply(
            "en",
            0.9,
            [Citation(1, "e1", "Returns", "https://shop.example/returns", "faq", 0.9)],
            True,
        )
        text = ("Returns are free within 30 days [1]. " * 150).strip()

        async def finish():
            sent = await channel.send(message("widget_thinking", "en"))
            await bot.linguadesk._finish(channel, sent, reply, text, "42")

        runner.run(finish())
        posts = bot_posts(fake, fake.text_channel_id)
        assert len(posts) == 3 and all(len(p["content"]) <= MESSAGE_LIMIT for p in posts)
        assert " ".join(p["content"] for p in posts) == text
        assert not posts[0].get("components") and posts[-1]["components"]
        assert "https://shop.example/returns" in posts[-1]["embeds"][0]["description"]


# --- buttons ---------------------------------------------------------------------------------


@pytest.mark.llm
def test_buttons_keep_feedback_and_hand_over_even_after_a_restart(discord_bot):
    with RecordingServer() as webhook:
        fake = FakeDiscord()
        with fake:
            with discord_bot(fake, changes={"handoff.webhook_url": webhook.url}) as (
                _,
                bot,
                runner,
                engine,
            ):
                fake.send_dm("Can I pay with PayPal?")
                [answer] = finished(fake, fake.dm_channel_id)
                up, down, human = custom_ids(answer)
                clicked = fake.click_button(answer["id"], up)
                callback = fake.wait_for_callback(clicked)
                assert callback.json["type"] == 4 and callback.json["data"]["flags"] == 64
                assert callback.json["data"]["content"] == message("feedback_thanks", "en")
                key = conversation_key("discord", "dm", int(fake.dm_channel_id))
                assert [f.rating for f in engine.conversations.feedback(key)] == ["up"]

            # The bot restarts; the buttons on its old message still work.
            with discord_bot(fake, engine=engine, changes={"handoff.webhook_url": webhook.url}) as (
                _,
                bot,
                runner,
                engine,
            ):
                clicked = fake.click_button(answer["id"], human)
                callback = fake.wait_for_callback(clicked, timeout=60)
                assert callback.json["data"]["content"] == message("handoff_started", "en")
                assert not callback.json["data"].get("flags")  # said in the conversation
                assert webhook.arrived.wait(120)
                assert json.loads(webhook.received[0].body)["conversation"] == key
                posted = len(bot_posts(fake, fake.dm_channel_id))
                fake.send_dm("Hello? Is someone there?")
                fake.wait_until(
                    lambda: engine.conversations.messages(key)[-1].text.startswith("Hello?"),
                    timeout=30,
                )
                runner.settle(fake)
                assert len(bot_posts(fake, fake.dm_channel_id)) == posted  # a person has it


# --- /kb -----------------------------------------------------------------------------------------


def kb(fake, runner, sub: str, options=(), **kwargs) -> str:
    interaction = fake.run_command(
        "kb", [{"type": 1, "name": sub, "options": list(options)}], **kwargs
    )
    fake.wait_for_callback(interaction)
    runner.settle(fake, timeout=120)  # ingesting embeds in a worker thread
    original = fake.original_response(interaction)
    assert original["flags"] & 64  # only the admin sees it
    return "\n".join([original["content"]] + [f["content"] for f in fake.followups(interaction)])


def commands_put(fake: FakeDiscord, guild_id: str | None = None) -> list[dict]:
    """The bodies of the bot's bulk command registrations, globally or in one server."""
    path = f"/applications/{fake.application_id}" + (f"/guilds/{guild_id}" if guild_id else "")
    return [r.json for r in fake.requests if r.method == "PUT" and r.path == path + "/commands"]


def register_old_global_kb(fake: FakeDiscord) -> None:
    """What an older version left behind: /kb as a global command."""
    request = urllib.request.Request(
        f"{fake.api_base}/applications/{fake.application_id}/commands",
        method="PUT",
        data=json.dumps([{"name": "kb", "description": "Knowledge base", "options": []}]).encode(),
        headers={"Authorization": "Bot fake-bot-token", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).close()
    # The fake records a request just after answering it: wait for it before clearing.
    fake.wait_for_request(lambda r: r.method == "PUT" and r.path.endswith("/commands"))
    fake.clear_requests()


def status_text(kb_) -> str:
    stats = kb_.stats()
    return message("kb_status", "en").format(
        entries=stats.entries,
        sources=len(stats.by_source),
        languages=", ".join(f"{c} ({n})" for c, n in stats.by_language.most_common()),
    )


def test_kb_is_registered_only_in_the_admin_servers(discord_bot):
    with FakeDiscord() as fake:
        other = fake.add_guild("Somebody else's server")  # the bot is in both
        register_old_global_kb(fake)
        with discord_bot(fake) as (_, bot, runner, engine):
            assert commands_put(fake) == [[]]  # never global; the old global /kb is gone
            assert fake.registered_commands() == []
            assert commands_put(fake, other["id"]) == []
            [put] = commands_put(fake, fake.guild_id)
            assert [c["name"] for c in put] == ["kb"]
            [command] = fake.registered_commands(fake.guild_id)
            assert [o["name"] for o in command["options"]] == [
                "status",
                "ingest",
                "delete",
                "gaps",
                "search",
            ]
            assert (
                int(command["default_member_permissions"])
                == discord.Permissions(manage_guild=True).value
            )
            # Descriptions in the admin's Discord language, from the catalogs.
            assert command["description"] == message("kb_cmd_group", "en")
            assert command["description_localizations"]["ja"] == message("kb_cmd_group", "ja")
            search = next(o for o in command["options"] if o["name"] == "search")
            assert search["options"][0]["description_localizations"]["de"] == message(
                "kb_cmd_search_text", "de"
            )


def test_kb_from_another_server_is_refused_and_changes_nothing(discord_bot, loaded_kb, caplog):
    faq = b"# Lies\n\n## Is everything free?\nYes, take what you want.\n"
    with FakeDiscord() as fake:
        register_old_global_kb(fake)  # still shown in Discord clients for a while
        with discord_bot(fake) as (_, bot, runner, engine):
            # A public bot can be invited by anybody to a server they own, where they have
            # every permission; the /kb they see there is the old global one.
            other = fake.add_guild("Mallory's server")
            runner.settle(fake)
            mallory, channel = other["owner"], other["text_channel_id"]
            assert bot.get_guild(int(other["id"])).owner_id == int(mallory["user"]["id"])
            before = loaded_kb.stats()
            source = "shipping-returns-payments.en.md"
            assert any(name.endswith(source) for name in before.by_source)
            for sub, options, attachments in [
                ("delete", [{"type": 3, "name": "source", "value": source}], None),
                ("ingest", [], {"file": ("lies.md", faq)}),
                ("ingest", [{"type": 3, "name": "url", "value": "https://evil.example/faq"}], None),
            ]:
                refused = kb(
                    fake,
                    runner,
                    sub,
                    options,
                    user=mallory,
                    channel_id=channel,
                    attachments=attachments,
                )
                assert refused == message("kb_admins_only", "en")
            assert loaded_kb.stats() == before
            warnings = [
                r.getMessage()
                for r in caplog.records
                if r.levelname == "WARNING" and "refused /kb" in r.getMessage()
            ]
            assert len(warnings) == 3 and all(
                f"server {other['id']} (user {mallory['user']['id']})" in w for w in warnings
            )

            # The same from the admin server, by a member who may manage it, works.
            managers = fake.add_role("Managers", Perm.MANAGE_GUILD)
            manager = fake.add_member("mia_manager", roles=[managers["id"]])
            runner.settle(fake)
            ingested = kb(
                fake, runner, "ingest", user=manager, attachments={"file": ("lies.md", faq)}
            )
            assert "`upload:lies.md`: 1 added" in ingested, ingested
            deleted = kb(
                fake,
                runner,
                "delete",
                [{"type": 3, "name": "source", "value": "upload:lies.md"}],
                user=manager,
            )
            assert deleted == message("kb_deleted", "en").format(source="`upload:lies.md`", count=1)
            assert loaded_kb.stats() == before


def test_admin_roles_count_by_id_not_by_name(discord_bot, loaded_kb):
    with FakeDiscord() as fake:
        helpers = fake.add_role("KB helpers")  # no permissions of its own
        # Whoever may edit roles can give another role the same name.
        lookalike = fake.add_role("KB helpers")
        helper = fake.add_member("hana_helper", roles=[helpers["id"]])
        impostor = fake.add_member("ivan_impostor", roles=[lookalike["id"]])
        with discord_bot(fake, changes={"discord.admin_role_ids": [int(helpers["id"])]}) as (
            _,
            bot,
            runner,
            engine,
        ):
            [command] = fake.registered_commands(fake.guild_id)
            assert command["default_member_permissions"] is None  # the role's members see it
            assert kb(fake, runner, "status", user=impostor) == message("kb_admins_only", "en")
            assert kb(fake, runner, "status", user=helper).startswith(status_text(loaded_kb))


def test_kb_is_refused_politely_to_members_in_their_language(discord_bot):
    with discord_bot(locale="ja") as (fake, bot, runner, engine):
        before = loaded_count(engine)
        refused = kb(
            fake, runner, "delete", [{"type": 3, "name": "source", "value": "x"}], user=fake.member
        )
        assert refused == message("kb_admins_only", "ja")
        assert loaded_count(engine) == before


def loaded_count(engine) -> int:
    return len(engine.retriever.invoke("shipping"))


def test_admins_run_kb_status_ingest_search_and_delete(discord_bot, loaded_kb):
    faq = b"# Gift cards\n\n## Do you sell gift cards?\nYes, from \xe2\x82\xac10 to \xe2\x82\xac200.\n"
    with discord_bot() as (fake, bot, runner, engine):
        stats = loaded_kb.stats()
        status = kb(fake, runner, "status", user=fake.admin)  # Manage Server through a role
        assert status.startswith(status_text(loaded_kb))

        ingested = kb(
            fake,
            runner,
            "ingest",
            [{"type": 11, "name": "file", "value": "file"}],
            user=fake.owner,
            attachments={"file": ("gifts.md", faq)},
        )
        assert "`upload:gifts.md`: 1 added" in ingested, ingested

        found = kb(
            fake,
            runner,
            "search",
            [{"type": 3, "name": "text", "value": "gift cards"}],
            user=fake.admin,
        )
        assert re.search(r"• \d\.\d\d Do you sell gift cards\? \(`upload:gifts.md`\)", found), found

        deleted = kb(
            fake,
            runner,
            "delete",
            [{"type": 3, "name": "source", "value": "upload:gifts.md"}],
            user=fake.admin,
        )
        assert deleted == message("kb_deleted", "en").format(source="`upload:gifts.md`", count=1)
        assert loaded_kb.stats().entries == stats.entries

        # The questions the FAQ did not answer, grouped across languages.
        from bot.gaps import GapTurn

        for question, language in [
            ("Do you offer gift wrapping?", "en"),
            ("Do you offer gift wrapping?", "en"),
            ("Bieten Sie Geschenkverpackung an?", "de"),
            ("¿Ofrecen envoltorio para regalo?", "es"),
            ("Do you have a student discount?", "en"),
            ("Gibt es einen Studentenrabatt?", "de"),
        ]:
            engine.gaps.record(GapTurn(question, "no_answer", language, "web:x", "web"))
        gaps = kb(
            fake, runner, "gaps", [{"type": 3, "name": "since", "value": "7d"}], user=fake.admin
        )
        assert gaps.startswith(message("kb_gaps_header", "en").format(period="7d", count=2)), gaps
        assert "• 4× [en 2, de 1, es 1]" in gaps, gaps


# --- serve ---------------------------------------------------------------------------------------


def test_serve_starts_the_discord_bot_when_its_token_is_set_and_stops_it(
    loaded_kb, settings, monkeypatch
):
    from adapters.platforms import start_chat_adapters
    from runtime import build_engine

    with FakeDiscord() as fake:
        fake.patch(monkeypatch)
        config = settings.updated(
            {
                "discord.bot_token": SecretStr("fake-bot-token"),
                "discord.admin_guild_ids": [int(fake.guild_id)],
            }
        )
        [running] = start_chat_adapters(
            config, build_engine(config, store=loaded_kb.store), loaded_kb, None
        )
        fake.wait_until(fake.is_connected, timeout=30)
        assert fake.wait_for_request(method="PUT", path=rf"/guilds/{fake.guild_id}/commands$")
        running.stop()
        assert not running.thread.is_alive() and running.client.is_closed()


def test_serve_refuses_discord_without_admin_servers_or_with_the_old_settings(
    settings, monkeypatch
):
    from adapters.platforms import PlatformError, start_chat_adapters

    stopped = []
    monkeypatch.setattr(
        "adapters.slack.runner.start_slack",
        lambda *args: SimpleNamespace(stop=lambda: stopped.append("slack")),
    )
    with FakeDiscord() as fake:
        fake.patch(monkeypatch)
        config = settings.updated(
            {
                "discord.bot_token": SecretStr("fake-bot-token"),
                "slack.bot_token": SecretStr("xoxb-fake"),
            }
        )
        with pytest.raises(
            PlatformError,
            match=r"LINGUADESK_DISCORD__ADMIN_GUILD_IDS .*"
            r"'\[123456789012345678\]'.*Copy Server ID",
        ):
            start_chat_adapters(config, None, None, None)
        assert stopped == ["slack"]  # what had started stops again

        config = config.updated({"discord.admin_guild_ids": [int(fake.guild_id)]})
        monkeypatch.setenv("LINGUADESK_DISCORD_GUILD_ID", fake.guild_id)
        with pytest.raises(
            PlatformError,
            match="LINGUADESK_DISCORD_GUILD_ID was replaced by LINGUADESK_DISCORD__ADMIN_GUILD_IDS",
        ):
            start_chat_adapters(config, None, None, None)
        monkeypatch.delenv("LINGUADESK_DISCORD_GUILD_ID")
        monkeypatch.setenv("LINGUADESK_DISCORD_ADMIN_ROLE", "Support admins")
        with pytest.raises(
            PlatformError,
            match="LINGUADESK_DISCORD_ADMIN_ROLE was replaced by "
            "LINGUADESK_DISCORD__ADMIN_ROLE_IDS",
        ):
            start_chat_adapters(config, None, None, None)
        assert fake.requests == [] and not fake.is_connected()  # the bot never started
