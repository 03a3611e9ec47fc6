"""Smoke tests of the fake Discord (tests/fake_discord.py) driven by the real discord.py client."""

from __future__ import annotations

import socket
import threading

import discord
import pytest
from discord import app_commands

from tests.fake_discord import FakeDiscord, run_client

TEXT_PATH = r"^/channels/{cid}/messages$"


class PongView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.add_item(discord.ui.Button(label="More", custom_id="smoke:more", style=discord.ButtonStyle.primary))


class ThanksView(discord.ui.View):
    """Persistent: no timeout, fixed custom_id, registered with ``client.add_view``."""

    def __init__(self, clicks: list) -> None:
        super().__init__(timeout=None)
        self.clicks = clicks

    @discord.ui.button(label="Helpful", custom_id="smoke:thanks", style=discord.ButtonStyle.success)
    async def thanks(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.clicks.append((interaction.user.id, [r.name for r in getattr(interaction.user, "roles", [])]))
        await interaction.response.send_message("thanks", ephemeral=True)


class SmokeClient(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)
        self.clicks: list = []
        self.seen: list[discord.Message] = []

    async def setup_hook(self) -> None:
        self.add_view(ThanksView(self.clicks))
        kb = app_commands.Group(name="kb", description="Knowledge base administration")

        @kb.command(name="status", description="Show the knowledge base status")
        async def status(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"kb ok for {interaction.user.name}", ephemeral=True)

        self.tree.add_command(kb)

    async def on_message(self, message: discord.Message) -> None:
        if message.author == self.user:
            return
        self.seen.append(message)
        if message.content == "ping":
            reply = await message.channel.send("pong", view=PongView())
            await reply.edit(content="pong (edited)")
        elif message.content == "panel":
            await message.channel.send("Was this helpful?", view=ThanksView(self.clicks))


@pytest.fixture
def env(monkeypatch):
    before = set(threading.enumerate())
    with FakeDiscord() as fake:
        fake.patch(monkeypatch)
        client = SmokeClient()
        with run_client(client) as runner:
            yield fake, client, runner
        port = fake.port
    # nothing leaks: threads are gone and the port is closed
    leaked = fake.wait_until(lambda: not [t for t in threading.enumerate() if t not in before] or "ok",
                             timeout=5) and [t for t in threading.enumerate() if t not in before]
    assert not leaked, leaked
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


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
    assert fake.unknown_requests() == []


def test_on_message_reply_with_view_then_edit(env):
    fake, client, _ = env
    cid = fake.text_channel_id
    sent = fake.send_message(cid, "ping")
    assert sent["guild_id"] == fake.guild_id and sent["member"]["roles"] == []

    post = fake.wait_for_request(method="POST", path=TEXT_PATH.format(cid=cid))
    assert post.status == 200 and post.json["content"] == "pong"
    button = post.json["components"][0]["components"][0]
    assert button["custom_id"] == "smoke:more" and button["type"] == 2

    patch = fake.wait_for_request(method="PATCH", path=rf"^/channels/{cid}/messages/{post.response['id']}$")
    assert patch.status == 200 and patch.json["content"] == "pong (edited)"
    [msg] = [m for m in fake.messages_in(cid) if m["author"]["id"] == fake.bot_id]
    assert msg["content"] == "pong (edited)" and msg["edited_timestamp"] is not None
    assert msg["components"][0]["components"][0]["custom_id"] == "smoke:more"
    assert [v["content"] for v in fake.message_history(msg["id"])] == ["pong", "pong (edited)"]
    assert client.seen[0].author.id == int(fake.member["user"]["id"])


def test_persistent_view_button_click(env):
    fake, client, _ = env
    cid = fake.text_channel_id
    fake.send_message(cid, "panel")
    panel = fake.wait_for_request(method="POST", path=TEXT_PATH.format(cid=cid)).response

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
    put = fake.wait_for_request(method="PUT", path=rf"^/applications/{fake.application_id}/commands$")
    assert put.json[0]["name"] == "kb" and put.json[0]["options"][0]["name"] == "status"
    assert [c.id for c in synced] == [int(c["id"]) for c in fake.registered_commands()]

    interaction = fake.run_command("kb", [{"type": 1, "name": "status", "options": []}])
    assert interaction["data"]["id"] == fake.registered_commands()[0]["id"]
    callback = fake.wait_for_callback(interaction)
    assert callback.status == 200
    assert callback.json["type"] == 4
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
