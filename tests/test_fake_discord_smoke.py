"""Smoke tests of the fake Discord (tests/fake_discord.py) driven by the real discord.py client."""

from __future__ import annotations

import io
import socket
import threading

import discord
import pytest
from discord import app_commands

from tests.fake_discord import FakeDiscord, run_client


class PongView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.add_item(
            discord.ui.Button(
                label="More", custom_id="smoke:more", style=discord.ButtonStyle.primary
            )
        )


class ThanksView(discord.ui.View):
    """Persistent: no timeout, fixed custom_id, registered with ``client.add_view``."""

    def __init__(self, clicks: list) -> None:
        super().__init__(timeout=None)
        self.clicks = clicks

    @discord.ui.button(label="Helpful", custom_id="smoke:thanks", style=discord.ButtonStyle.success)
    async def thanks(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.clicks.append(
            (interaction.user.id, [r.name for r in getattr(interaction.user, "roles", [])])
        )
        await interaction.response.send_message("thanks", ephemeral=True)


class Feedback(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="What went wrong?", custom_id="smoke:feedback-text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"noted: {self.text.value}", ephemeral=True)


class SmokeClient(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)
        self.clicks: list = []
        self.seen: list[discord.Message] = []
        self.threads: list[discord.Thread] = []

    async def setup_hook(self) -> None:
        self.add_view(ThanksView(self.clicks))
        kb = app_commands.Group(name="kb", description="Knowledge base administration")

        @kb.command(name="status", description="Show the knowledge base status")
        async def status(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                f"kb ok for {interaction.user.name}", ephemeral=True
            )

        @kb.command(name="upload", description="Add a document to the knowledge base")
        async def upload(interaction: discord.Interaction, file: discord.Attachment) -> None:
            await interaction.response.defer(thinking=True)
            data = await file.read()
            await interaction.followup.send(
                f"indexed {file.filename} ({len(data)} bytes: {data.decode()})"
            )

        @kb.command(name="feedback", description="Tell us what went wrong")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(Feedback())

        self.tree.add_command(kb)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads.append(thread)

    async def on_message(self, message: discord.Message) -> None:
        if message.author == self.user:
            return
        self.seen.append(message)
        if message.content == "ping":
            reply = await message.channel.send("pong", view=PongView())
            await reply.edit(content="pong (edited)")
        elif message.content == "panel":
            await message.channel.send("Was this helpful?", view=ThanksView(self.clicks))
        elif isinstance(message.channel, discord.DMChannel):
            await message.channel.send(f"dm reply to {message.author.name}")
        elif isinstance(message.channel, discord.Thread) and isinstance(
            message.channel.parent, discord.ForumChannel
        ):
            await message.channel.send(
                "forum answer", file=discord.File(io.BytesIO(b"steps"), filename="howto.txt")
            )


@pytest.fixture
def fake(monkeypatch):
    before = set(threading.enumerate())
    with FakeDiscord() as fake:
        fake.patch(monkeypatch)
        yield fake
    # nothing leaks: no new threads survive and the port is closed
    fake.wait_until(
        lambda: not [t for t in threading.enumerate() if t not in before] or "leaked", timeout=5
    )
    assert [t for t in threading.enumerate() if t not in before] == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", fake.port), timeout=1).close()


@pytest.fixture
def env(fake):
    client = SmokeClient()
    with run_client(client) as runner:
        yield fake, client, runner
    assert fake.unknown_requests() == []


def _post_to(fake: FakeDiscord, channel_id: str):
    return fake.wait_for_request(method="POST", path=rf"^/channels/{channel_id}/messages$")


def test_client_becomes_ready_and_sees_the_guild(env):
    fake, client, _ = env
    guild = client.get_guild(int(fake.guild_id))
    assert guild is not None and guild.name == fake.guild_name
    assert isinstance(client.get_channel(int(fake.text_channel_id)), discord.TextChannel)
    forum = client.get_channel(int(fake.forum_channel_id))
    assert isinstance(forum, discord.ForumChannel)
    assert [t.name for t in forum.available_tags] == ["Question", "Resolved"]
    assert guild.get_role(int(fake.admin_role_id)).name == "Support admins"
    assert guild.me is not None and guild.owner_id == int(fake.owner_id)
    assert client.user.id == int(fake.bot_id) and client.application_id == int(fake.application_id)
    assert fake.intents == client.intents.value


def test_on_message_reply_with_view_then_edit(env):
    fake, client, _ = env
    cid = fake.text_channel_id
    sent = fake.send_message(cid, "ping")
    assert sent["guild_id"] == fake.guild_id and sent["member"]["roles"] == []

    post = _post_to(fake, cid)
    assert post.status == 200 and post.json["content"] == "pong"
    button = post.json["components"][0]["components"][0]
    assert button["custom_id"] == "smoke:more" and button["type"] == 2

    patch = fake.wait_for_request(
        method="PATCH", path=rf"^/channels/{cid}/messages/{post.response['id']}$"
    )
    assert patch.status == 200 and patch.json["content"] == "pong (edited)"
    [msg] = [m for m in fake.messages_in(cid) if m["author"]["id"] == fake.bot_id]
    assert msg["content"] == "pong (edited)" and msg["edited_timestamp"] is not None
    assert msg["components"][0]["components"][0]["custom_id"] == "smoke:more"
    assert [v["content"] for v in fake.message_history(msg["id"])] == ["pong", "pong (edited)"]
    assert client.seen[0].author.id == int(fake.member["user"]["id"])


def test_persistent_view_button_click(env):
    fake, client, _ = env
    fake.send_message(fake.text_channel_id, "panel")
    panel = _post_to(fake, fake.text_channel_id).response

    interaction = fake.click_button(panel["id"], "smoke:thanks", user=fake.admin)
    callback = fake.wait_for_callback(interaction)
    assert callback.status == 200 and callback.query == {"with_response": "1"}
    assert callback.json["type"] == 4
    assert callback.json["data"]["content"] == "thanks" and callback.json["data"]["flags"] == 64
    assert fake.original_response(interaction)["flags"] & 64
    assert client.clicks == [(int(fake.admin["user"]["id"]), ["@everyone", "Support admins"])]
    with pytest.raises(ValueError):
        fake.click_button(panel["id"], "no-such-button")


def test_slash_subcommand_after_sync(env):
    fake, client, runner = env
    synced = runner.run(client.tree.sync())
    put = fake.wait_for_request(
        method="PUT", path=rf"^/applications/{fake.application_id}/commands$"
    )
    assert put.json[0]["name"] == "kb" and [o["name"] for o in put.json[0]["options"]] == [
        "status",
        "upload",
        "feedback",
    ]
    assert [c.id for c in synced] == [int(c["id"]) for c in fake.registered_commands()]

    interaction = fake.run_command("kb", [{"type": 1, "name": "status", "options": []}])
    assert interaction["data"]["id"] == fake.registered_commands()[0]["id"]
    callback = fake.wait_for_callback(interaction)
    assert callback.status == 200 and callback.json["type"] == 4
    assert callback.json["data"]["content"] == f"kb ok for {fake.member['user']['username']}"
    assert callback.json["data"]["flags"] == 64


def test_rate_limited_edit_is_retried(env):
    fake, _, _ = env
    cid = fake.text_channel_id
    edit_path = rf"^/channels/{cid}/messages/\d+$"
    fake.rate_limit_next("PATCH", edit_path, retry_after=0.3)
    fake.send_message(cid, "ping")

    first = fake.wait_for_request(method="PATCH", path=edit_path)
    assert first.status == 429 and first.response["retry_after"] == 0.3
    second = fake.wait_for_request(lambda r: r.status == 200, method="PATCH", path=edit_path)
    assert second.time - first.time >= 0.25
    assert second.json["content"] == "pong (edited)"
    [msg] = [m for m in fake.messages_in(cid) if m["author"]["id"] == fake.bot_id]
    assert msg["content"] == "pong (edited)"


# -- beyond the basics: the other flows the real tests rely on


def test_forum_post_and_dm(env):
    fake, client, runner = env
    thread = fake.create_thread(
        fake.forum_channel_id,
        "How do I reset my password?",
        owner_id=fake.member,
        starter_content="I am locked out",
        applied_tags=[fake.forum_tags[0]["id"]],
    )
    answer = _post_to(fake, thread["id"])
    assert answer.files[0]["filename"] == "howto.txt" and answer.files[0]["data"] == b"steps"
    starter, reply = fake.messages_in(thread["id"])
    assert starter["id"] == thread["id"] and reply["attachments"][0]["filename"] == "howto.txt"
    runner.settle(fake)
    assert [t.id for t in client.threads] == [int(thread["id"])]
    assert client.threads[0].applied_tags[0].name == "Question"

    fake.send_dm("hello?")
    dm = _post_to(fake, fake.dm_channel_id)
    assert dm.json["content"] == f"dm reply to {fake.member['user']['username']}"


def test_deferred_upload_followup_and_modal(env):
    fake, client, runner = env
    runner.run(client.tree.sync())
    interaction = fake.run_command(
        "kb",
        [{"type": 1, "name": "upload", "options": []}],
        user=fake.admin,
        attachments={"file": ("faq.md", b"# FAQ")},
    )
    assert fake.wait_for_callback(interaction).json["type"] == 5
    runner.settle(fake)
    original = fake.original_response(interaction)
    assert original["content"] == "indexed faq.md (5 bytes: # FAQ)" and not original["flags"] & 128

    opened = fake.run_command("kb", [{"type": 1, "name": "feedback", "options": []}])
    modal = fake.wait_for_callback(opened).json
    assert modal["type"] == 9 and modal["data"]["title"] == "Feedback"
    submitted = fake.submit_modal(modal["data"]["custom_id"], {"smoke:feedback-text": "too slow"})
    assert fake.wait_for_callback(submitted).json["data"]["content"] == "noted: too slow"


def test_message_content_needs_the_privileged_intent(fake):
    client = discord.Client(intents=discord.Intents.default())
    seen: list[str] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    with run_client(client) as runner:
        fake.send_message(fake.text_channel_id, "secret")
        fake.send_message(fake.text_channel_id, "hi bot", mentions_bot=True)
        runner.settle(fake)
    assert seen == ["", f"<@{fake.bot_id}> hi bot"]
