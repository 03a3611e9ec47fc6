import asyncio, discord, pytest, io
from discord import app_commands
from discord.ext import commands
from tests.fake_discord import FakeDiscord, run_client

class Feedback(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="What went wrong?", custom_id="fb:text")
    async def on_submit(self, interaction):
        await interaction.response.send_message(f"got: {self.text.value}", ephemeral=True)

class Bot(commands.Bot):
    def __init__(self, intents=None):
        if intents is None:
            intents = discord.Intents.default(); intents.message_content = True
        super().__init__(command_prefix="!", intents=intents)
        self.log = []
    async def setup_hook(self):
        guild = discord.Object(id=int(self.fake.guild_id))
        @app_commands.command(name="upload", description="Upload a doc")
        async def upload(interaction: discord.Interaction, file: discord.Attachment, who: discord.Member = None):
            await interaction.response.defer(thinking=True)
            data = await file.read()
            await interaction.followup.send(f"{file.filename}:{len(data)}:{data[:5].decode()}:{who and who.name}")
        self.tree.add_command(upload, guild=guild)
        @app_commands.command(name="feedback", description="Give feedback")
        async def feedback(interaction: discord.Interaction):
            await interaction.response.send_modal(Feedback())
        self.tree.add_command(feedback, guild=guild)
        await self.tree.sync(guild=guild)
    async def on_message(self, message):
        if message.author.bot: return
        self.log.append(("msg", message.channel.id, message.content, [a.filename for a in message.attachments]))
        if isinstance(message.channel, discord.Thread) and message.channel.parent and isinstance(message.channel.parent, discord.ForumChannel):
            await message.channel.send("forum answer", file=discord.File(io.BytesIO(b"hello world"), filename="a.txt"))
        elif isinstance(message.channel, discord.DMChannel):
            await message.channel.send("dm answer")
        elif message.content == "thread me":
            t = await message.create_thread(name="Support: thread me")
            await t.send("in thread")
        elif message.content == "long":
            try:
                await message.channel.send("x" * 2001)
            except discord.HTTPException as e:
                self.log.append(("err", e.status, e.code, e.text))
        elif message.content == "forum post":
            forum = self.get_channel(int(self.fake.forum_channel_id))
            tw = await forum.create_thread(name="FAQ", content="starter", applied_tags=[forum.available_tags[0]])
            self.log.append(("forum", tw.thread.id, tw.message.id))
    async def on_thread_create(self, thread):
        self.log.append(("thread", thread.id, thread.parent_id, thread.name))

@pytest.fixture
def fake(monkeypatch):
    with FakeDiscord() as fake:
        fake.patch(monkeypatch)
        yield fake

def test_flows(fake):
    bot = Bot(); bot.fake = fake
    with run_client(bot) as runner:
        assert fake.registered_commands(fake.guild_id)
        # forum post by user
        th = fake.create_thread(fake.forum_channel_id, "How do I reset?", starter_content="help me", applied_tags=[fake.forum_tags[0]["id"]])
        r = fake.wait_for_request(method="POST", path=rf"/channels/{th['id']}/messages")
        assert r.files and r.files[0]["filename"] == "a.txt", r
        runner.settle(fake)
        assert ("thread", int(th["id"]), int(fake.forum_channel_id), "How do I reset?") in bot.log
        assert ("msg", int(th["id"]), "help me", []) in bot.log
        m = fake.messages_in(th["id"])
        assert m[0]["id"] == th["id"] and m[1]["attachments"][0]["filename"] == "a.txt"
        # DM
        fake.send_dm("hello in dm")
        fake.wait_for_request(method="POST", path=rf"/channels/{fake.dm_channel_id}/messages")
        # thread from message
        fake.send_message(fake.text_channel_id, "thread me")
        r = fake.wait_for_request(method="POST", path=r"/messages/\d+/threads$")
        runner.settle(fake)
        assert fake.messages_in(r.response["id"])[0]["content"] == "in thread"
        # long content -> 400
        fake.send_message(fake.text_channel_id, "long")
        runner.settle(fake)
        assert ("err", 400, 50035) == bot.log[-1][:3], bot.log[-1]
        # forum create by bot
        fake.send_message(fake.text_channel_id, "forum post")
        runner.settle(fake)
        assert bot.log[-1][0] == "forum" and bot.log[-1][1] == bot.log[-1][2]
        # attachments command + defer + followup
        inter = fake.run_command("upload", [{"type": 6, "name": "who", "value": fake.admin["user"]["id"]}], attachments={"file": ("faq.txt", b"HELLO FAQ")})
        cb = fake.wait_for_callback(inter)
        assert cb.json["type"] == 5
        runner.settle(fake)
        orig = fake.original_response(inter)
        assert orig["content"] == "faq.txt:9:HELLO:alice_admin", orig
        assert not orig["flags"] & 128
        # modal
        inter = fake.run_command("feedback", [])
        cb = fake.wait_for_callback(inter)
        assert cb.json["type"] == 9
        sub = fake.submit_modal(cb.json["data"]["custom_id"], {"fb:text": "slow answers"})
        cb2 = fake.wait_for_callback(sub)
        assert cb2.json["data"]["content"] == "got: slow answers"
        assert fake.unknown_requests() == []
    print(bot.log)

def test_no_message_content(fake):
    bot = Bot(intents=discord.Intents.default()); bot.fake = fake
    with run_client(bot) as runner:
        fake.send_message(fake.text_channel_id, "secret")
        fake.send_message(fake.text_channel_id, "hi bot", mentions_bot=True)
        runner.settle(fake)
        assert [l[2] for l in bot.log] == ["", f"<@{fake.bot_id}> hi bot"]

def test_prefix_command_and_members(fake):
    intents = discord.Intents.all()
    bot = Bot(intents=intents); bot.fake = fake
    @bot.command()
    async def whoami(ctx):
        await ctx.reply(f"{ctx.author.name} admin={any(r.name=='Support admins' for r in ctx.author.roles)}")
    with run_client(bot) as runner:
        g = bot.get_guild(int(fake.guild_id))
        assert len(g.members) == 4, g.members
        fake.send_message(fake.text_channel_id, "!whoami", author=fake.admin)
        r = fake.wait_for_request(method="POST", path=r"/messages$", predicate=None) if False else fake.wait_for_request(lambda r: r.method=="POST" and r.path.endswith("/messages"))
        assert r.json["content"] == "alice_admin admin=True"
        assert r.response["type"] == 19 and r.response["referenced_message"]["content"] == "!whoami"
