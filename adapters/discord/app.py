"""Discord ↔ the bot core. Answers mentions, DMs, and messages in the threads it started (or
in configured channels, where each question gets its own thread, and configured forums, whose
new posts it answers); streams by editing its message; /kb for admins of the configured
servers only (the knowledge base is shared by every server the bot is in). The engine is
synchronous: each turn runs in a worker thread and edits the message through the client's loop."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str

from adapters.chat_turn import ChatTurns, team_signature
from adapters.dedupe import SeenEvents
from adapters.kb_commands import KbCommands, gap_miner
from adapters.retries import Retries
from bot.conversations import Message, conversation_key, conversation_parts
from bot.engine import Engine, Reply
from bot.messages import SUPPORTED_LANGUAGES, message
from common.language import base_language
from knowledge.admin import KnowledgeBase
from linguadesk.settings import Settings

from .surface import ChannelAnswer
from .views import CUSTOM_ID, citations_embed, custom_id, message_pieces, reply_buttons

log = logging.getLogger(__name__)

CHANNEL = "discord"
THREAD_NAME_LIMIT = 100
DELIVERY_EVERY_S = 1.0
_MENTION = re.compile(r"<@!?\d+>")


class ReplyButton(discord.ui.DynamicItem[discord.ui.Button], template=CUSTOM_ID):
    """👍 / 👎 / talk to a person under an answer; matched by custom id after restarts too."""

    def __init__(
        self,
        action: str,
        reply_id: str,
        scope: str,
        *,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ):
        super().__init__(
            discord.ui.Button(
                label=label or action, style=style, custom_id=custom_id(action, reply_id, scope)
            )
        )
        self.action, self.reply_id, self.scope = action, reply_id, scope

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ReplyButton:
        return cls(match["action"], match["reply"], match["scope"])

    async def callback(self, interaction: discord.Interaction) -> None:
        adapter = interaction.client.linguadesk  # type: ignore[attr-defined]  # LinguadeskBot's
        await adapter.on_button(interaction, self)


class CatalogTranslator(app_commands.Translator):
    """/kb's descriptions in the admin's Discord language, from the gettext catalogs (each
    ``locale_str`` carries its catalog key)."""

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key, language = string.extras.get("key"), base_language(locale.value)
        if not key or language == "en" or language not in SUPPORTED_LANGUAGES:
            return None
        return message(key, language)[:100]


def _text(key: str) -> locale_str:
    return locale_str(message(key, "en"), key=key)


class KbTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # Before the command is looked up, so that a /kb Discord still shows elsewhere (a global
        # one from an older version, or a server since removed from the settings) is refused
        # too, not just left unanswered.
        adapter = self.client.linguadesk  # type: ignore[attr-defined]  # set by LinguadeskBot
        if (
            interaction.type is discord.InteractionType.application_command
            and interaction.data is not None
            and interaction.data.get("name") == "kb"
            and interaction.guild_id not in adapter.settings.discord.admin_guild_ids
        ):
            await adapter.refuse(interaction)
            return False
        return True


class LinguadeskBot(discord.Client):
    def __init__(self, settings: Settings, engine: Engine, kb: KnowledgeBase):
        intents = discord.Intents.default()
        intents.message_content = True  # privileged: enable it in the Developer Portal
        # Nobody is pinged by what the bot writes (an "@everyone" in an entry or an answer).
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none())
        self.linguadesk = DiscordAdapter(self, settings, engine, kb)
        self.tree = KbTree(self)
        self.admin_guilds = [discord.Object(g) for g in settings.discord.admin_guild_ids]
        if self.admin_guilds:  # (guilds=[] would add it globally)
            self.tree.add_command(self.linguadesk.kb_group(), guilds=self.admin_guilds)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReplyButton)
        self._delivery = asyncio.create_task(self.linguadesk.deliver_loop())
        await self.tree.set_translator(CatalogTranslator())
        # The global commands are none: syncing them removes a global /kb of an older version.
        for guild in [None, *self.admin_guilds]:
            try:
                await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:  # answering still works without /kb
                if guild is None:
                    log.warning("discord: could not clear the global commands (%s)", exc)
                else:
                    log.warning(
                        "discord: could not register /kb in server %s (%s); invite the "
                        "bot there with the applications.commands scope",
                        guild.id,
                        exc,
                    )

    async def on_message(self, msg: discord.Message) -> None:
        await self.linguadesk.on_message(msg)

    async def close(self) -> None:
        delivery = getattr(self, "_delivery", None)
        if delivery is not None:
            delivery.cancel()
        await super().close()
        self.linguadesk.turns.shutdown(wait=False, cancel_futures=True)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        await self.linguadesk.on_thread_create(thread)


class DiscordAdapter:
    def __init__(
        self, client: discord.Client, settings: Settings, engine: Engine, kb: KnowledgeBase
    ):
        self.client, self.settings, self.engine = client, settings, engine
        self.commands = KbCommands(
            kb,
            engine.retriever,
            allow_private_urls=settings.web.ingest_private_urls,
            gaps=gap_miner(engine, kb, settings),
            escape=lambda text: discord.utils.escape_mentions(discord.utils.escape_markdown(text)),
        )
        self._retries = Retries()
        # A resumed gateway session can replay messages: each is answered once.
        self.seen = SeenEvents(settings.redis, prefix="linguadesk:discord-message:")
        # Turns run here, not in the loop's default executor, which aiohttp needs for DNS.
        self.turns = ThreadPoolExecutor(
            settings.chat.max_concurrent_turns, thread_name_prefix="discord-turn"
        )
        self.chat = ChatTurns(engine, CHANNEL, interval_s=settings.discord.update_interval_s)

    # --- which messages are for the bot ---------------------------------------------------

    async def on_message(self, msg: discord.Message) -> None:
        me = self.client.user
        if (
            msg.author.bot
            or me is None
            or msg.type not in (discord.MessageType.default, discord.MessageType.reply)
        ):
            return
        channel = msg.channel
        if msg.guild is None:  # a DM
            return await self._turn(msg, channel, conversation_key(CHANNEL, "dm", channel.id))
        guild = msg.guild.id
        mentioned = me in msg.mentions or any(  # the bot, or the role Discord made for it
            role.is_bot_managed() and role in msg.guild.me.roles for role in msg.role_mentions
        )
        if isinstance(channel, discord.Thread):
            key = conversation_key(CHANNEL, guild, channel.id)
            forum_post = channel.parent_id in self.settings.discord.forum_channels
            if (
                mentioned
                or channel.owner_id == me.id
                or (
                    forum_post
                    and (
                        msg.id == channel.id
                        or await asyncio.to_thread(self.engine.desk.exists, key)
                    )
                )
            ):
                return await self._turn(msg, channel, key)
            return
        if channel.id in self.settings.discord.thread_channels:
            if not await self._first_time(msg):
                return
            name = _MENTION.sub("", msg.content).strip()[:THREAD_NAME_LIMIT] or "?"
            try:
                thread = await msg.create_thread(name=name, auto_archive_duration=1440)
            except discord.HTTPException as exc:  # answer where the question is, then
                log.warning(
                    "discord: cannot create a thread in %s (%s); give the bot Create "
                    "Public Threads there",
                    channel.id,
                    exc,
                )
                key = conversation_key(CHANNEL, guild, channel.id, msg.author.id)
                return await self._turn(
                    msg, channel, key, scope=str(msg.author.id), reply_to=msg, checked=True
                )
            return await self._turn(
                msg, thread, conversation_key(CHANNEL, guild, thread.id), checked=True
            )
        if mentioned:  # in a shared channel: one conversation per person
            key = conversation_key(CHANNEL, guild, channel.id, msg.author.id)
            return await self._turn(msg, channel, key, scope=str(msg.author.id), reply_to=msg)

    async def _first_time(self, msg: discord.Message) -> bool:
        return await asyncio.to_thread(self.seen.first_time, str(msg.id))

    async def on_thread_create(self, thread: discord.Thread) -> None:
        # A new forum post: its starter message (same id as the thread) arrives as a message
        # too, which on_message answers; nothing to do here but to join so replies arrive.
        if thread.parent_id in self.settings.discord.forum_channels and thread.me is None:
            try:
                await thread.join()
            except discord.HTTPException:
                pass

    # --- one turn ----------------------------------------------------------------------------

    async def _turn(
        self,
        msg: discord.Message,
        channel: discord.abc.Messageable,
        key: str,
        *,
        scope: str = "",
        reply_to: discord.Message | None = None,
        checked: bool = False,
    ) -> None:
        if not checked and not await self._first_time(msg):
            return
        loop = asyncio.get_running_loop()
        answer = ChannelAnswer(
            loop, channel, partial(self._finish, channel, scope=scope), reply_to=reply_to
        )
        text = _MENTION.sub(" ", msg.content).strip()
        await loop.run_in_executor(
            self.turns, self.chat.answer, key, str(msg.author.id), text, answer
        )

    async def _finish(
        self,
        channel: discord.abc.Messageable,
        sent: discord.Message,
        reply: Reply,
        answer: str,
        scope: str,
    ) -> None:
        """The first piece replaces the placeholder; the rest follow, the last one with the
        citations and buttons."""
        pieces = message_pieces(answer)
        extras: dict[str, Any] = {
            "embed": citations_embed(reply),
            "view": reply_buttons(reply, scope, ReplyButton),
        }
        extras = {name: value for name, value in extras.items() if value is not None}
        if len(pieces) == 1:
            await sent.edit(content=pieces[0], **extras)
            return
        await sent.edit(content=pieces[0])
        for piece in pieces[1:-1]:
            await channel.send(piece)
        await channel.send(pieces[-1], **extras)

    # --- the team's messages, after a handoff ---------------------------------------------

    async def deliver_loop(self) -> None:
        """Posts what the support team wrote (in Slack, the admin API or the console) to
        Discord customers; a message that cannot be posted now is tried again next round."""
        await self.client.wait_until_ready()
        while not self.client.is_closed():
            try:
                await self.deliver()
            except Exception:
                log.exception("discord: delivering the team's messages failed; trying again")
            await asyncio.sleep(DELIVERY_EVERY_S)

    async def deliver(self) -> int:
        posted = 0
        for key, waiting in await asyncio.to_thread(self.engine.team.undelivered, CHANNEL):
            if not self._retries.due(key):
                continue
            parts = conversation_parts(key)
            try:
                channel_id = int(parts[2])
                channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(
                    channel_id
                )
            except (IndexError, ValueError, discord.HTTPException) as exc:
                await self._undeliverable(key, waiting, type(exc).__name__)
                continue
            if not isinstance(channel, discord.abc.Messageable):
                continue
            for sent in waiting:
                try:
                    for piece in message_pieces(_for_customer(sent)):
                        await channel.send(piece)
                except discord.HTTPException as exc:
                    await self._undeliverable(key, waiting, f"HTTP {exc.status}")
                    break
                self._retries.succeeded(key)
                await asyncio.to_thread(self.engine.team.delivered, key, sent.at)
                posted += 1
        return posted

    async def _undeliverable(self, key: str, waiting: list[Message], why: str) -> None:
        """Tried again later, less and less often; after too many tries given up (DMs closed,
        the channel deleted), so Discord is not asked in vain forever."""
        if self._retries.failed(key):
            log.error("discord: gave up delivering the team's messages to %s (%s)", key, why)
            await asyncio.to_thread(self.engine.team.delivered, key, waiting[-1].at)
        else:
            log.warning("discord: delivering to %s failed (%s)", key, why)

    # --- buttons ---------------------------------------------------------------------------

    def _key_for(self, interaction: discord.Interaction, scope: str) -> str:
        if interaction.guild_id is None:
            return conversation_key(CHANNEL, "dm", interaction.channel_id)
        if scope:
            return conversation_key(CHANNEL, interaction.guild_id, interaction.channel_id, scope)
        return conversation_key(CHANNEL, interaction.guild_id, interaction.channel_id)

    async def on_button(self, interaction: discord.Interaction, button: ReplyButton) -> None:
        key = self._key_for(interaction, button.scope)
        if button.scope and button.scope != str(interaction.user.id):
            # In a shared channel the buttons are the asker's: nobody else rates their answer
            # or hands their conversation over. They are told in their own language.
            language = base_language(str(interaction.locale)) or await asyncio.to_thread(
                self.engine.desk.language, key
            )
            await interaction.response.send_message(
                message("buttons_not_yours", language), ephemeral=True
            )
            return
        if button.action in ("up", "down"):
            notice = await asyncio.to_thread(self.chat.rate, key, button.reply_id, button.action)
        else:
            notice = await asyncio.to_thread(self.chat.hand_off, key, str(interaction.user.id))
        await interaction.response.send_message(notice.text, ephemeral=not notice.public)

    # --- /kb ----------------------------------------------------------------------------------

    def is_admin(self, interaction: discord.Interaction) -> bool:
        """Manage Server, or an admin role (by id: anybody who may edit roles can copy a name),
        in one of the admin servers."""
        user = interaction.user
        if interaction.guild_id not in self.settings.discord.admin_guild_ids or not isinstance(
            user, discord.Member
        ):
            return False
        roles = set(self.settings.discord.admin_role_ids)
        return user.guild_permissions.manage_guild or any(r.id in roles for r in user.roles)

    def kb_group(self) -> app_commands.Group:
        adapter = self
        # With admin roles configured, their members must see /kb too; without, Discord shows
        # it only to members who can manage the server.
        permissions = (
            None if self.settings.discord.admin_role_ids else discord.Permissions(manage_guild=True)
        )
        group = app_commands.Group(
            name="kb",
            description=_text("kb_cmd_group"),
            guild_only=True,
            default_permissions=permissions,
        )

        @group.command(name="status", description=_text("kb_cmd_status"))
        async def status(interaction: discord.Interaction) -> None:
            await adapter._kb(interaction, lambda language: adapter.commands.status(language))

        @group.command(name="ingest", description=_text("kb_cmd_ingest"))
        @app_commands.describe(url=_text("kb_cmd_ingest_url"), file=_text("kb_cmd_ingest_file"))
        async def ingest(
            interaction: discord.Interaction,
            url: str | None = None,
            file: discord.Attachment | None = None,
        ) -> None:
            language = await adapter._admit(interaction)
            if language is None:
                return
            limit = adapter.settings.web.max_upload_bytes
            if file is not None and file.size > limit:
                return await adapter._send(
                    interaction,
                    message("kb_file_too_large", language).format(
                        name=file.filename, limit=max(1, limit // 2**20)
                    ),
                )
            # Read only now: after the admin check, and after deferring (3 s to answer).
            data = await file.read() if file is not None else None

            def run(language: str) -> str:
                if data is not None and file is not None:
                    return adapter.commands.ingest_file(file.filename, data, language)
                return adapter.commands.ingest_url(url or "", language)

            await adapter._run(interaction, language, run)

        @group.command(name="delete", description=_text("kb_cmd_delete"))
        @app_commands.describe(source=_text("kb_cmd_delete_source"))
        async def delete(interaction: discord.Interaction, source: str) -> None:
            await adapter._kb(
                interaction, lambda language: adapter.commands.delete(source, language)
            )

        @group.command(name="gaps", description=_text("kb_cmd_gaps"))
        @app_commands.describe(since=_text("kb_cmd_gaps_since"))
        async def gaps(interaction: discord.Interaction, since: str = "") -> None:
            await adapter._kb(interaction, lambda language: adapter.commands.gaps(since, language))

        @group.command(name="search", description=_text("kb_cmd_search"))
        @app_commands.describe(text=_text("kb_cmd_search_text"))
        async def search(interaction: discord.Interaction, text: str) -> None:
            await adapter._kb(interaction, lambda language: adapter.commands.search(text, language))

        return group

    async def _kb(self, interaction: discord.Interaction, run: Callable[[str], str]) -> None:
        language = await self._admit(interaction)
        if language is not None:
            await self._run(interaction, language, run)

    def _language(self, interaction: discord.Interaction) -> str:
        return base_language(str(interaction.locale)) or self.settings.default_language

    async def _admit(self, interaction: discord.Interaction) -> str | None:
        """The admin's language once /kb is deferred for them; None (refused) for others."""
        if not self.is_admin(interaction):
            await self.refuse(interaction)
            return None
        await interaction.response.defer(ephemeral=True, thinking=True)
        return self._language(interaction)

    async def refuse(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id not in self.settings.discord.admin_guild_ids:
            log.warning(
                "discord: refused /kb from server %s (user %s): not one of discord_admin_guild_ids",
                interaction.guild_id,
                interaction.user.id,
            )
        await interaction.response.send_message(
            message("kb_admins_only", self._language(interaction)), ephemeral=True
        )

    async def _run(
        self, interaction: discord.Interaction, language: str, run: Callable[[str], str]
    ) -> None:
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.turns, run, language)
        except Exception as exc:
            log.exception("discord: /kb failed")
            result = message("kb_failed", language).format(error=type(exc).__name__)
        await self._send(interaction, result)

    async def _send(self, interaction: discord.Interaction, text: str) -> None:
        for piece in message_pieces(text):
            await interaction.followup.send(piece, ephemeral=True)


def _for_customer(sent: Message) -> str:
    """A team message as the customer reads it: who wrote it, and a note when the translation
    failed. Mentions in it ping nobody (the client allows none)."""
    if sent.notice:
        return sent.text
    text = f"**{discord.utils.escape_markdown(team_signature(sent))}**\n{sent.text}"
    if sent.untranslated:
        text += "\n*" + message("agent_untranslated", sent.language) + "*"
    return text
