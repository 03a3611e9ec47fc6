"""Slack ↔ the bot core. Bolt acknowledges each event at once and runs these listeners in its
thread pool; a listener answers by posting a placeholder in the thread and editing it as the
answer streams. Nothing here decides what to answer."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from slack_bolt import Ack, App, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from adapters.chat_turn import ChatTurns, Notice, team_signature
from adapters.dedupe import SeenEvents
from adapters.kb_commands import KbCommands, KbRequest, gap_miner, parse
from adapters.retries import Retries
from adapters.streaming import EditBudget
from bot.conversations import Message, conversation_key, conversation_parts
from bot.engine import Engine, Reply
from bot.messages import message
from bot.team_chat import AgentMessageRefused, AgentSent, NotHandedOff
from common.language import base_language, language_name
from knowledge.admin import KnowledgeBase
from linguadesk.settings import ConfigError, Settings

from .blocks import FEEDBACK_ACTION, HANDOFF_ACTION, answer_blocks, escape, read_button_value
from .notifier import RELEASE_ACTION, TAKE_ACTION, quoted, thread_ref

log = logging.getLogger(__name__)

CHANNEL = "slack"
_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")
# A Slack file: its id in a permalink (…/files/U…/F…/name) or a files.slack.com URL.
_FILE_ID = re.compile(r"/(F[A-Z0-9]{6,})(?:/|$)")
_DM_INGEST = re.compile(r"^\s*/?kb\s+ingest\b", re.I)
_RELEASE = re.compile(r"^\s*/?kb\s+release\s*$", re.I)
_NOTE = "//"  # a thread reply starting so is the team's own note, never sent to the customer
_CACHE_S = 600.0
_DELIVERY_EVERY_S = 1.0


def slack_client(settings: Settings) -> WebClient:
    if settings.slack.bot_token is None:
        raise ConfigError(
            "LINGUADESK_SLACK__BOT_TOKEN is not set: the Slack adapter needs the "
            "bot token (xoxb-…) of your Slack app (docs/slack.md)."
        )
    client = WebClient(
        token=settings.slack.bot_token.get_secret_value(), base_url=settings.slack.api_url
    )
    # Slack answers 429 with Retry-After: the SDK waits that long and tries again.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=4))
    return client


class SlackAdapter:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        kb: KnowledgeBase,
        *,
        client: WebClient | None = None,
    ):
        if settings.slack.bot_token is None:
            raise ValueError(
                "LINGUADESK_SLACK__BOT_TOKEN is not set: add the bot token (xoxb-…) "
                "of your Slack app; see docs/slack.md."
            )
        self.settings, self.engine = settings, engine
        self.client = client or slack_client(settings)
        secret = settings.slack.signing_secret
        self.app = App(
            client=self.client,  # Bolt takes the bot token from the client
            signing_secret=secret.get_secret_value() if secret else "",
            process_before_response=False,
        )
        self.seen = SeenEvents(settings.redis, prefix="linguadesk:slack-event:")
        self.commands = KbCommands(
            kb,
            engine.retriever,
            allow_private_urls=settings.web.ingest_private_urls,
            gaps=gap_miner(engine, kb, settings),
            escape=escape,
        )
        self._locales: dict[str, tuple[float, str | None]] = {}
        self._group: tuple[float, set[str]] = (float("-inf"), set())
        self._lock = threading.Lock()
        # Answers run here, not in Bolt's listener pool: a long answer must not keep a slash
        # command or a button click from being acknowledged within Slack's 3 seconds.
        self._turns = ThreadPoolExecutor(
            settings.chat.max_concurrent_turns, thread_name_prefix="slack-turn"
        )
        self.chat = ChatTurns(
            engine,
            CHANNEL,
            interval_s=settings.slack.update_interval_s,
            budget=EditBudget(settings.slack.updates_per_minute),
        )

        self.app.middleware(self._once)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.action(FEEDBACK_ACTION)(self._on_feedback)
        self.app.action(HANDOFF_ACTION)(self._on_handoff)
        self.app.action(TAKE_ACTION)(self._on_take)
        self.app.action(RELEASE_ACTION)(self._on_release)
        self.app.command(settings.slack.command)(self._on_kb)
        self._names: dict[str, tuple[float, str]] = {}
        self._team = ""  # this workspace's id, from the first event
        self._stopped = threading.Event()
        self._retries = Retries()
        self._delivery = threading.Thread(
            target=self._deliver_loop, name="slack-delivery", daemon=True
        )
        self._delivery.start()

    def close(self) -> None:
        self._stopped.set()
        self._turns.shutdown(wait=False, cancel_futures=True)

    # --- events ---------------------------------------------------------------------------

    def _once(self, body: dict, next: Callable[[], BoltResponse]) -> BoltResponse:
        """A retried delivery (same event_id) is acknowledged and dropped."""
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if event_id and not self.seen.first_time(event_id):
            log.info("slack: event %s delivered again, already handled", event_id)
            return BoltResponse(status=200, body="")
        return next()

    def _on_mention(self, event: dict, context: BoltContext, client: WebClient) -> None:
        if event.get("bot_id"):
            return  # another bot: answering it could start an endless exchange
        thread = event.get("thread_ts") or event["ts"]
        if event.get("thread_ts") and self.engine.team.conversation_for_thread(
            "slack", thread_ref(event["channel"], thread)
        ):
            return  # the team talking about the bot in a handoff thread: not a question to it
        self._answer_later(
            client,
            team=context.team_id or "",
            channel=event["channel"],
            thread=thread,
            user=event.get("user", ""),
            text=event.get("text", ""),
            in_thread=True,
            bot_user=context.bot_user_id,
        )

    def _on_message(self, event: dict, context: BoltContext, client: WebClient) -> None:
        if event.get("bot_id") or event.get("subtype") not in (
            None,
            "file_share",
            "thread_broadcast",
        ):
            return  # other bots, edits, deletions, joins
        text, user = event.get("text") or "", event.get("user", "")
        team, channel = context.team_id or "", event["channel"]
        self._team = self._team or team
        if event.get("channel_type") == "im":
            if event.get("files") and _DM_INGEST.match(text):
                return self._ingest_shared_files(client, event)
            thread = event.get("thread_ts")
            self._answer_later(
                client,
                team=team,
                channel=channel,
                thread=thread or "dm",
                user=user,
                text=text,
                in_thread=bool(thread),
                bot_user=context.bot_user_id,
            )
            return
        thread = event.get("thread_ts")
        handed = (
            self.engine.team.conversation_for_thread("slack", thread_ref(channel, thread))
            if thread
            else None
        )
        if handed and thread:  # an agent in a handoff thread
            mentions_bot = bool(context.bot_user_id and f"<@{context.bot_user_id}>" in text)
            if not text.lstrip().startswith(_NOTE) and not mentions_bot:  # notes stay here
                self._turns.submit(self._from_agent, client, handed, channel, thread, user, text)
            return
        if not thread or (context.bot_user_id and f"<@{context.bot_user_id}>" in text):
            return  # top-level chatter, or a mention (answered as app_mention)
        if self.engine.desk.exists(conversation_key(CHANNEL, team, channel, thread)):
            self._answer_later(
                client,
                team=team,
                channel=channel,
                thread=thread,
                user=user,
                text=text,
                in_thread=True,
                bot_user=context.bot_user_id,
            )

    def _answer_later(self, client: WebClient, **turn: Any) -> None:
        def run() -> None:
            try:
                self._answer(client, **turn)
            except Exception:
                log.exception("slack: answering in %s failed", turn["channel"])

        self._turns.submit(run)

    def _answer(
        self,
        client: WebClient,
        *,
        team: str,
        channel: str,
        thread: str,
        user: str,
        text: str,
        in_thread: bool,
        bot_user: str | None,
    ) -> None:
        key = conversation_key(CHANNEL, team, channel, thread)
        text = _MENTION.sub(" ", text).strip() if bot_user else text
        answer = _AnswerMessage(client, channel, thread if in_thread else None, key)
        self.chat.answer(key, user, text, answer, locale=self._locale(client, user))

    # --- the team, in a handoff thread -----------------------------------------------------

    def _from_agent(
        self, client: WebClient, key: str, channel: str, thread: str, user: str, text: str
    ) -> None:
        """An agent's reply in the handoff thread goes to the customer, translated; the
        thread shows what was sent. ``kb release`` gives the conversation back."""
        team = self.engine.team.team_language
        if not self._may_answer(client, user):
            client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread, text=message("team_not_agent", team)
            )
            return
        try:
            if _RELEASE.match(text):
                return self._release(client, key, channel, thread, user)
            sent = self.engine.team.from_agent(key, text, agent=self._name(client, user))
        except (AgentMessageRefused, NotHandedOff) as exc:
            said = (
                message("team_not_handed_off", team) if isinstance(exc, NotHandedOff) else str(exc)
            )
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, text=said)
            return
        except Exception:
            log.exception("slack: relaying an agent's reply for %s failed", key)
            return
        _show_sent(client, channel, thread, sent, team)

    def _release(self, client: WebClient, key: str, channel: str, thread: str, user: str) -> None:
        team = self.engine.team.team_language
        if self.engine.release(key):
            said = message("team_released", team).format(name=self._name(client, user))
        else:
            said = message("team_not_handed_off", team)
        client.chat_postMessage(channel=channel, thread_ts=thread, text=escape(said))

    def _on_take(self, ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        key, user = action["value"], body["user"]["id"]
        channel, thread = body["channel"]["id"], _thread_of(body) or body["message"]["ts"]
        team = self.engine.team.team_language
        if not self._may_answer(client, user):
            client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread, text=message("team_not_agent", team)
            )
            return
        name = self._name(client, user)
        if self.engine.team.take(key, name):
            said = message("team_took", team).format(name=name)
            client.chat_postMessage(channel=channel, thread_ts=thread, text=escape(said))
        else:
            client.chat_postEphemeral(
                channel=channel,
                user=user,
                thread_ts=thread,
                text=message("team_not_handed_off", team),
            )

    def _on_release(self, ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        channel, thread = body["channel"]["id"], _thread_of(body) or body["message"]["ts"]
        user = body["user"]["id"]
        if not self._may_answer(client, user):
            team = self.engine.team.team_language
            client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread, text=message("team_not_agent", team)
            )
            return
        self._release(client, action["value"], channel, thread, user)

    def _may_answer(self, client: WebClient, user: str) -> bool:
        """Who may write to customers from a handoff thread: the admins, and full members of
        this workspace. Guests and people from other organisations (Slack Connect) may not."""
        if not user:
            return False
        if self._is_admin(client, user):
            return True
        try:
            info = client.users_info(user=user)["user"]
        except Exception:  # cannot tell who it is: nobody writes to a customer unchecked
            return False
        return not (
            info.get("is_bot")
            or info.get("is_restricted")
            or info.get("is_ultra_restricted")
            or info.get("is_stranger")
            or (self._team and info.get("team_id") not in (None, self._team))
        )

    def _name(self, client: WebClient, user: str) -> str:
        """The agent's display name, as the customer will see it."""
        with self._lock:
            cached = self._names.get(user)
        if cached and time.monotonic() - cached[0] < _CACHE_S:
            return cached[1]
        try:
            info = client.users_info(user=user)["user"]
            profile = info.get("profile") or {}
            name = (
                profile.get("display_name")
                or info.get("real_name")
                or profile.get("real_name")
                or info.get("name")
                or ""
            )
        except Exception:  # users:read missing: the customer sees "support team" alone
            name = ""
        with self._lock:
            self._names[user] = (time.monotonic(), name)
        return name

    # --- delivering the team's messages to Slack customers ----------------------------------

    def _deliver_loop(self) -> None:
        while not self._stopped.wait(_DELIVERY_EVERY_S):
            try:
                self.deliver()
            except Exception:
                log.exception("slack: delivering the team's messages failed; trying again")

    def deliver(self) -> int:
        """Posts the team's messages waiting for Slack customers; returns how many."""
        posted = 0
        for key, waiting in self.engine.team.undelivered(CHANNEL):
            if not self._retries.due(key):
                continue
            _, _team, channel, thread = (conversation_parts(key) + ["", "", "", ""])[:4]
            for sent in waiting:
                try:
                    self.client.chat_postMessage(
                        channel=channel,
                        thread_ts=None if thread == "dm" else thread,
                        text=_for_customer(sent),
                        unfurl_links=False,
                        unfurl_media=False,
                    )
                except SlackApiError as exc:  # kept: the next round tries again
                    log.warning(
                        "slack: delivering to %s failed: %s", key, exc.response.get("error")
                    )
                    break
                self.engine.team.delivered(key, sent.at)
                posted += 1
        return posted

    # --- buttons --------------------------------------------------------------------------

    def _on_feedback(self, ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        key, reply_id = read_button_value(action["value"])
        matched = FEEDBACK_ACTION.match(action["action_id"])
        if matched is None:  # Bolt routed it here by this same pattern
            return
        rating = matched.group(1)
        _tell(client, body, self.chat.rate(key, reply_id, rating))

    def _on_handoff(self, ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        key, _ = read_button_value(action["value"])
        _tell(client, body, self.chat.hand_off(key, body["user"]["id"]))

    # --- /kb --------------------------------------------------------------------------------

    def _on_kb(self, ack: Ack, command: dict, respond: Respond, client: WebClient) -> None:
        ack()  # at once; everything else (who is asking, in which language) may take a while
        user = command["user_id"]
        language = self._language(client, user)

        def say(text: str) -> None:
            respond(response_type="ephemeral", replace_original=False, text=text)

        if not self._is_admin(client, user):
            return say(message("kb_admins_only", language))
        request = parse(command.get("text", ""))
        if request.action == "help":
            return say(message("kb_usage", language))
        say(message("kb_working", language))
        say(self._kb_result(client, request, language))

    def _kb_result(self, client: WebClient, request: KbRequest | _SharedFile, language: str) -> str:
        try:
            return self._run_kb(client, request, language)
        except FileTooLarge as exc:
            return message("kb_file_too_large", language).format(
                name=exc.name, limit=max(1, self.settings.web.max_upload_bytes // 2**20)
            )
        except SlackApiError as exc:  # e.g. file_not_found: the bot cannot see that file
            log.warning("slack: /kb %s: %s", request.action, exc.response.get("error"))
            return message("kb_failed", language).format(
                error=f"Slack: {exc.response.get('error', 'error')}"
            )
        except Exception as exc:
            log.exception("slack: /kb %s failed", request.action)
            return message("kb_failed", language).format(error=type(exc).__name__)

    def _run_kb(self, client: WebClient, request: KbRequest | _SharedFile, language: str) -> str:
        if isinstance(request, _SharedFile):
            return self.commands.ingest_file(*self._download_file(client, request.id), language)
        if request.action == "status":
            return self.commands.status(language)
        if request.action == "delete":
            return self.commands.delete(request.argument, language)
        if request.action == "search":
            return self.commands.search(request.argument, language)
        if request.action == "gaps":
            return self.commands.gaps(request.argument, language)
        if request.action == "release":  # /kb release <conversation>, from the handoff message
            key = request.argument.strip().strip("`")
            team = self.engine.team.team_language
            if key and self.engine.release(key):
                return message("team_released", team).format(name="/kb release")
            return message("team_not_handed_off", team)
        file_id = _FILE_ID.search(request.argument)
        if file_id and "slack.com" in request.argument:
            name, data = self._download_file(client, file_id.group(1))
            return self.commands.ingest_file(name, data, language)
        return self.commands.ingest_url(request.argument, language)

    def _ingest_shared_files(self, client: WebClient, event: dict) -> None:
        """An admin shared files in a DM with the comment "kb ingest"."""
        user, channel = event.get("user", ""), event["channel"]
        language = self._language(client, user)
        if not self._is_admin(client, user):
            client.chat_postMessage(channel=channel, text=message("kb_admins_only", language))
            return
        results = [
            self._kb_result(client, _SharedFile(shared["id"]), language)
            for shared in event["files"]
        ]
        client.chat_postMessage(
            channel=channel, thread_ts=event.get("thread_ts"), text="\n".join(results)
        )

    def _download_file(self, client: WebClient, file_id: str) -> tuple[str, bytes]:
        info = client.files_info(file=file_id)["file"]
        url = info.get("url_private_download") or info["url_private"]
        limit = self.settings.web.max_upload_bytes
        if info.get("size", 0) > limit:
            raise FileTooLarge(info.get("name") or file_id)
        with httpx.stream(
            "GET",
            url,
            timeout=30,
            follow_redirects=True,
            headers={"Authorization": f"Bearer {client.token}"},
        ) as response:
            response.raise_for_status()
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise FileTooLarge(info.get("name") or file_id)
        return info.get("name") or f"{file_id}.txt", bytes(data)

    # --- who is asking ----------------------------------------------------------------------

    def _is_admin(self, client: WebClient, user: str) -> bool:
        if user in self.settings.slack.admin_user_ids:
            return True
        group = self.settings.slack.admin_usergroup
        if not group:
            return False
        with self._lock:
            fetched, members = self._group
        if time.monotonic() - fetched > 60:
            try:
                members = set(client.usergroups_users_list(usergroup=group)["users"])
            except Exception as exc:  # no usergroups:read scope, unknown group: nobody
                log.warning(
                    "slack: cannot read admin user group %s (%s); check the "
                    "usergroups:read scope and slack_admin_usergroup",
                    group,
                    exc,
                )
                members = set()
            with self._lock:
                self._group = (time.monotonic(), members)
        return user in members

    def _locale(self, client: WebClient, user: str) -> str | None:
        """The user's Slack locale (e.g. "ja-JP"), for prices and dates; None when unknown."""
        if not user:
            return None
        with self._lock:
            cached = self._locales.get(user)
        if cached and time.monotonic() - cached[0] < _CACHE_S:
            return cached[1]
        try:
            locale = client.users_info(user=user, include_locale=True)["user"].get("locale")
        except Exception:  # users:read missing: detection from the text still works
            locale = None
        with self._lock:
            self._locales[user] = (time.monotonic(), locale)
        return locale

    def _language(self, client: WebClient, user: str) -> str:
        locale = self._locale(client, user)
        return base_language(locale or self.settings.default_language)


class _AnswerMessage:
    """A turn's answer in Slack: a placeholder in the thread, edited as the answer streams."""

    def __init__(self, client: WebClient, channel: str, thread: str | None, key: str):
        self.client, self.channel, self.thread, self.key = client, channel, thread, key
        self.ts = ""

    def placeholder(self, text: str) -> None:
        self.ts = self.client.chat_postMessage(
            channel=self.channel, thread_ts=self.thread, text=text
        )["ts"]

    def preview(self, text: str) -> None:
        self.client.chat_update(channel=self.channel, ts=self.ts, text=escape(text))

    def finish(self, reply: Reply, text: str) -> None:
        self.client.chat_update(
            channel=self.channel,
            ts=self.ts,
            text=escape(text),
            blocks=answer_blocks(reply, text, self.key),
        )


class FileTooLarge(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _SharedFile:
    action = "ingest"

    def __init__(self, file_id: str):
        self.id = file_id


def _for_customer(sent: Message) -> str:
    """A team message as the customer reads it: who wrote it, the text, and a note when the
    translation failed. Escaped: an agent's "<!channel>" pings nobody."""
    if sent.notice:
        return escape(sent.text)
    text = f"*{escape(team_signature(sent))}*\n{escape(sent.text)}"
    if sent.untranslated:
        text += "\n_" + escape(message("agent_untranslated", sent.language)) + "_"
    return text


def _show_sent(client: WebClient, channel: str, thread: str, sent: AgentSent, team: str) -> None:
    """The agent sees what the customer got, in the customer's language and their own."""
    relayed = sent.relayed
    heading = message("team_sent", team).format(language=language_name(relayed.language, team))
    elements = quoted(heading, relayed.text)
    if relayed.untranslated:
        elements += quoted(message("team_untranslated", team), "")[:1]
    client.chat_postMessage(
        channel=channel,
        thread_ts=thread,
        text=escape(heading + " " + relayed.text),
        blocks=[{"type": "rich_text", "elements": elements}],
        unfurl_links=False,
        unfurl_media=False,
    )


def _tell(client: WebClient, body: dict, notice: Notice) -> None:
    """Answer a button click in its thread, for everyone or only for the one who clicked."""
    channel, thread = body["channel"]["id"], _thread_of(body)
    if notice.public:
        client.chat_postMessage(channel=channel, thread_ts=thread, text=escape(notice.text))
    else:
        client.chat_postEphemeral(
            channel=channel, user=body["user"]["id"], thread_ts=thread, text=notice.text
        )


def _thread_of(body: dict) -> str | None:
    container = body.get("container") or {}
    message_ = body.get("message") or {}
    return container.get("thread_ts") or message_.get("thread_ts")
