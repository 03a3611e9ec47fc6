"""The core: one turn in, one reply out. Knows nothing of Slack, Discord or the web.

A turn goes: conversation state → reply language (explicit request > lock > adapter hint >
detection, sticky on short messages) → handed off? (stay quiet) → asks for a person? (handoff)
→ small talk? → follow-up rewriting → retrieval → off-topic / "I don't know" / an answer from
the answer path (:mod:`bot.answering`: one entry, translated, every draft verified).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, Protocol

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable

from common.guardrails import strip_instructions
from common.hits import Hit
from common.language import (
    base_language,
    detect_language,
    language_name,
    reply_language_share,
    requested_language,
    text_size,
)
from linguadesk.settings import GenerationPreset, Presets

from .answering import Question, VerifiedAnswerer
from .conversations import (
    ConversationState,
    ConversationStore,
    Message,
    Role,
    SqliteConversationStore,
    within_budget,
)
from .desk import ConversationDesk
from .entry_translation import EntryTranslator, TranslationCache
from .gaps import GapLog, GapTurn, gap_reason
from .handoff import HandoffEvent, HandoffService, asks_for_human, is_yes
from .legacy_answer import LegacyAnswerer
from .llm import CircuitBreaker, LLMUnavailable, with_preset
from .locale_format import customer_locale, localize_figures
from .messages import message
from .metrics import observe_reply
from .prompts import NOT_COVERED_PATTERN, SMALL_TALK_PROMPT, as_data, register_for
from .reply import Citation, Reply, Status, Turn, citation
from .rewrite import QueryRewriter, needs_rewrite
from .team_chat import MessageTranslator, TeamChat
from .turn_log import TurnLog, TurnRecord, outcome_of

__all__ = [
    "Citation",
    "Engine",
    "HitSource",
    "Reply",
    "Status",
    "Turn",
    "citation",
    "is_small_talk",
]

log = logging.getLogger(__name__)

# A short message ("ok", "thanks!") or a low-confidence detection keeps the
# conversation's language instead of switching to whatever the detector guessed.
STICKY_LANGUAGE_BELOW = 0.6
SHORT_MESSAGE_WORDS = 3

# The reply's language is judged once this many letters have been generated (streaming waits
# for them), and again on the whole text. Below this share of letters in the right language
# the reply is regenerated, then translated.
LANGUAGE_GATE_LETTERS = 60
MIN_LANGUAGE_SHARE = 0.75

# Retrieval relevance above which the model's "not covered" is asked again (see prompts).
SURE_RELEVANCE = 0.9

_SMALL_TALK = re.compile(
    r"^\W*(?:(?:hi|hello|hey|good (?:morning|afternoon|evening)|thanks?(?: you)?(?: so much)?|"
    r"thx|ty|bye|goodbye|ok(?:ay)?|great|perfect|cool|"
    r"hola|buen[oa]s (?:días|tardes|noches)|gracias|muchas gracias|adiós|vale|perfecto|"
    r"bonjour|bonsoir|salut|merci(?: beaucoup)?|au revoir|parfait|"
    r"hallo|guten (?:morgen|tag|abend)|danke(?: schön| sehr)?|tschüss|super|"
    r"ciao|buongiorno|buonasera|grazie(?: mille)?|arrivederci|perfetto|"
    r"olá|oi|bom dia|boa tarde|boa noite|obrigad[oa]|tchau|"
    r"こんにちは|こんばんは|おはようございます|おはよう|ありがとうございます|ありがとう|さようなら|"
    r"了解です|了解しました|わかりました|"
    r"你好|您好|谢谢|谢谢你|多谢|再见|好的|"
    r"안녕하세요|안녕|감사합니다|고맙습니다|안녕히 계세요|알겠습니다|"
    r"مرحبا|مرحبًا|السلام عليكم|أهلا|أهلًا|شكرا|شكرًا|شكرا جزيلا|مع السلامة|"
    r"xin chào|chào(?: (?:bạn|shop|ad|admin|anh|chị|em))?|chào buổi (?:sáng|chiều|tối)|alo|"
    r"xin chao|chao (?:ban|shop)|c[ảá]m ơn(?: (?:bạn|shop|nhiều|rất nhiều))?|"
    r"cam on(?: (?:ban|shop|nhieu))?|tạm biệt|tam biet|hẹn gặp lại|ok(?:e|ê)|được rồi|"
    r"duoc roi|tốt quá|tuyệt(?: vời)?|hiểu rồi|"
    r"merhaba(?:lar)?|selam(?:lar)?|günaydın|gunaydin|iyi günler|iyi gunler|iyi akşamlar|"
    r"iyi aksamlar|kolay gelsin|(?:çok )?teşekkürler|(?:çok )?teşekkür ederim|tesekkurler|"
    r"tesekkur ederim|sağ ?ol(?:un)?|sag ?ol(?:un)?|eyvallah|hoşça kal(?:ın)?|hosca kal(?:in)?|"
    r"görüşürüz|gorusuruz|tamam(?:dır)?|anladım|anladim|harika|süper|mükemmel)"
    r"[\s,!.。！、~]*)+\W*$",
    re.IGNORECASE,
)
_NO_LETTERS = re.compile(r"^[\W_]*$")  # emoji and punctuation; an order number is not small talk
_SHORT_REQUEST_WORDS = 6


def is_small_talk(text: str) -> bool:
    return bool(_SMALL_TALK.match(text) or _NO_LETTERS.match(text))


class HitSource(Protocol):
    """Retrieval as the engine sees it (``retrieval.retriever.FaqRetriever``)."""

    def hits(self, query: str, k: int | None = None) -> list[Hit]: ...


class Answerer(Protocol):
    """An answer path (:class:`~bot.answering.VerifiedAnswerer`, the legacy one)."""

    def tokens(self, question: Question, hits: list[Hit], reply: Reply) -> Iterator[str]: ...


class Engine:
    def __init__(
        self,
        retriever: HitSource,
        llm: BaseChatModel | Callable[[], BaseChatModel],
        *,
        min_confidence: float,
        off_topic_below: float = 0.0,
        conversations: ConversationStore | None = None,
        presets: dict[str, GenerationPreset] | None = None,
        server: str = "vllm",
        handoff: HandoffService | None = None,
        default_language: str = "en",
        max_context_entries: int = 3,
        history_token_budget: int = 1200,
        rewrite_follow_ups: bool = True,
        retrieval_language: str | Callable[[], str] = "en",
        breaker: CircuitBreaker | None = None,
        failed_turns: Callable[[dict], None] | None = None,
        answer_path: str = "verified",
        translations: TranslationCache | None = None,
        clarify_margin: float = 0.05,
        team_language: str = "en",
        agent_rate: str = "30/minute",
        gaps: GapLog | None = None,
        turns: TurnLog | None = None,
        encode_across_languages: Callable[[list[str]], Any] | None = None,
    ) -> None:
        """``breaker``: stops calling an LLM that keeps failing; ``failed_turns``: told about
        each turn the customer got an apology for, so that it can be answered later."""
        self.retriever = retriever
        self.breaker = breaker
        self.failed_turns = failed_turns
        self._llm = llm
        self.min_confidence = min_confidence
        self.off_topic_below = off_topic_below
        self.conversations = conversations or SqliteConversationStore(":memory:")
        self.gaps = gaps
        self.turns = turns
        self.desk = ConversationDesk(self.conversations, default_language, gaps=gaps, turns=turns)
        self.presets = presets or Presets().as_dict()
        self.server = server
        self.handoff_service = handoff
        self.default_language = default_language
        self.max_context_entries = max_context_entries
        self.history_token_budget = history_token_budget
        self.rewrite_follow_ups = rewrite_follow_ups
        self._retrieval_language = retrieval_language
        self._base_llm: BaseChatModel | None = None
        self._models: dict[str, Runnable] = {}
        self.answer_path = answer_path
        self.team = TeamChat(
            self.conversations,
            MessageTranslator(lambda: self.model("translate"), encode_across_languages),
            relays=lambda: self.handoff_service.notifiers if self.handoff_service else (),
            team_language=team_language,
            agent_rate=agent_rate,
        )
        self.answerers: dict[str, Answerer] = {
            "verified": VerifiedAnswerer(
                self.model,
                EntryTranslator(
                    lambda: self.model("translate"), translations, encode_across_languages
                ),
                lambda: self._can_hand_off,
                clarify_margin=clarify_margin,
            ),
            "legacy": LegacyAnswerer(self.model, lambda: self._can_hand_off),
        }

    # --- models ---------------------------------------------------------------------------

    @property
    def llm(self) -> BaseChatModel:
        # The LLM may be a factory: the embedded server starts only when a turn needs it.
        if self._base_llm is None:
            factory = self._llm
            self._base_llm = (
                factory()
                if callable(factory) and not isinstance(factory, BaseChatModel)
                else factory
            )
        return self._base_llm

    def model(self, scenario: str) -> Runnable:
        if scenario not in self._models:
            self._models[scenario] = with_preset(self.llm, self.presets[scenario], self.server)
        return self._models[scenario]

    @property
    def retrieval_language(self) -> str:
        value = self._retrieval_language
        return value() if callable(value) else value

    # --- the turn -------------------------------------------------------------------------

    def reply_language(self, turn: Turn, state: ConversationState) -> str:
        if state.locked_language:
            return state.locked_language
        if turn.language:
            return base_language(turn.language)
        detected = detect_language(turn.text, self.default_language)
        previous = state.language
        short = detected.confidence < 1.0 and len(turn.text.split()) < SHORT_MESSAGE_WORDS
        if previous and (short or detected.confidence < STICKY_LANGUAGE_BELOW):
            return previous
        if previous == "ja" and detected.language == "zh":
            return "ja"  # kanji without kana ("返品可能？") in a Japanese conversation
        if not previous and detected.confidence == 0.0:
            return self.default_language
        return detected.language

    def answer(self, turn: Turn) -> Reply:
        """The reply to one customer message; iterate it for the stream. It is counted in the
        metrics, and the turn remembered, once the stream is consumed."""
        started = time.perf_counter()
        return self._observed(self._answer(turn), turn, started)

    def _observed(self, reply: Reply, turn: Turn, started: float) -> Reply:
        reply.started = started
        reply.add_done_callback(
            lambda r: observe_reply(
                r, turn.channel or "api", time.perf_counter() - started, r.first_token_s
            )
        )
        if self.gaps is not None:
            reply.add_done_callback(lambda r: self._safely_note_gap(turn, r))
        if self.turns is not None:
            reply.add_done_callback(lambda r: self._count_turn(turn, r, started))
        return reply

    def _count_turn(self, turn: Turn, reply: Reply, started: float) -> None:
        outcome = outcome_of(reply.status)
        if outcome is None or self.turns is None:
            return
        self.turns.record(
            TurnRecord(
                "turn",
                turn.channel or "api",
                reply.language,
                outcome,
                round(time.perf_counter() - started, 3),
            )
        )

    def _safely_note_gap(self, turn: Turn, reply: Reply) -> None:
        try:
            self._note_gap(turn, reply)
        except Exception as exc:  # bookkeeping: the customer's answer is already out
            log.warning("a gap turn could not be noted: %s", type(exc).__name__)

    def _note_gap(self, turn: Turn, reply: Reply) -> None:
        """A turn the FAQ did not answer, kept for `linguadesk gaps` (bot/gaps.py)."""
        reason = gap_reason(reply)
        if reason is None or self.gaps is None:
            return
        question = turn.text.strip()
        if not question or reason == "handoff":  # the question that led to it, not the request
            earlier = [
                m.text
                for m in self.conversations.messages(turn.conversation_id)
                if m.role == Role.HUMAN and not asks_for_human(m.text) and not is_yes(m.text)
            ]
            question = earlier[-1] if earlier else ""
        if question:
            self.gaps.record(
                GapTurn(
                    question,
                    reason,
                    reply.language,
                    turn.conversation_id,
                    turn.channel,
                    round(float(reply.confidence), 3),
                )
            )

    def _answer(self, turn: Turn) -> Reply:
        key = turn.conversation_id
        state = self.conversations.state(key)
        history = self.conversations.messages(key)
        text = turn.text.strip()
        requested = requested_language(text) if text else None
        if requested:
            state.locked_language = requested
        changes = {"locked_language": requested} if requested else {}
        language = self.reply_language(turn, state)

        if state.handed_off:
            if text:
                said = Message(Role.HUMAN, text, language)
                self.conversations.append(key, said)
                self.team.from_customer(key, said, turn.channel)
            return Reply(language, 0.0, [], False, status=Status.HANDED_OFF)
        if not text:
            return self._fixed(turn, language, "empty_question", status=Status.EMPTY, record=False)
        if requested and _only_a_request(text):
            return self._fixed(
                turn,
                language,
                "language_switched",
                status=Status.LANGUAGE_SWITCHED,
                changes=changes,
            )
        asked = asks_for_human(text)
        if asked or (state.offered_handoff and is_yes(text)):
            reason = "customer_asked" if asked else "offered_and_accepted"
            return self._start_handoff(turn, reason=reason, language=language, changes=changes)
        if is_small_talk(text):
            return self._small_talk(turn, language, changes)

        query = text
        if self.rewrite_follow_ups and needs_rewrite(text, history):
            query = QueryRewriter(self.model("rewrite")).rewrite(
                text, history, self.retrieval_language
            )
            log.info("follow-up rewritten for retrieval")
        try:
            hits = self.retriever.hits(query)
        except Exception as exc:  # store or embedding failure: apologise, don't crash the turn
            log.warning("retrieval failed: %s: %s", type(exc).__name__, exc)
            reply = self._fixed(
                turn, language, "llm_unavailable", status=Status.ERROR, record=False
            )
            reply.error = type(exc).__name__
            self._failed(turn, language, "retrieval", exc)
            return reply
        # Hits come in rank order; a lower-ranked one can be the more surely relevant.
        confidence = max((h.relevance for h in hits), default=0.0)
        relevant = [h for h in hits if h.relevance >= self.min_confidence]
        relevant = relevant[: self.max_context_entries]
        if not relevant:
            if confidence < self.off_topic_below:
                log.info("off topic (best relevance %.3f)", confidence)
                return self._fixed(
                    turn,
                    language,
                    "off_topic",
                    status=Status.OFF_TOPIC,
                    confidence=confidence,
                    query=query,
                    changes=changes,
                )
            log.info(
                "no entry above %.2f (best %.3f): answering 'I don't know'",
                self.min_confidence,
                confidence,
            )
            return self._fixed(
                turn,
                language,
                "no_answer",
                status=Status.NO_ANSWER,
                confidence=confidence,
                query=query,
                offer_handoff=True,
                changes=changes,
            )

        locale = customer_locale(language, turn.locale)
        question = Question(
            text,
            language,
            locale,
            relevant[0].relevance,  # the answering entry's, which the draft may doubt
            min_relevance=self.min_confidence,
            history=[
                HumanMessage(f"<customer_message>\n{as_data(m.text)}\n</customer_message>")
                if m.role == "human"
                else AIMessage(m.text)
                for m in within_budget(history, self.history_token_budget)
            ],
            query=query,
        )
        if self.answer_path == "legacy":
            question = Question(
                text,
                language,
                locale,
                confidence,
                question.history,
                entries=[
                    Document(
                        localize_figures(
                            strip_instructions(h.document.page_content, h.entry_id),
                            locale,
                            h.language,
                        ),
                        metadata=h.document.metadata,
                    )
                    for h in relevant
                ],
            )
        reply = Reply(
            language=language,
            confidence=confidence,
            grounded=True,
            query=query,
            citations=[citation(n, h) for n, h in enumerate(relevant, start=1)],
        )
        answerer = self.answerers[self.answer_path]
        # The verified path chooses among the ranked hits: relevance says whether some entry
        # answers, not which one (a translated hub can outscore the customer's own-language
        # entry), so an entry below the threshold may still be the one the model picks.
        offered = hits if self.answer_path == "verified" else relevant
        reply.stream_from(self._guarded(answerer.tokens(question, offered, reply), reply, turn))
        reply.add_done_callback(lambda r: self._remember(turn, r, changes))
        return reply

    def _guarded(self, tokens: Iterator[str], reply: Reply, turn: Turn) -> Iterator[str]:
        """The answer's tokens; on any LLM or transport failure, the apology instead."""
        try:
            if self.breaker is not None:
                self.breaker.check()
            for n, token in enumerate(tokens):
                if n == 0 and self.breaker is not None:  # it answers: it is up
                    self.breaker.success()
                yield token
            if self.breaker is not None:
                self.breaker.success()
        except Exception as exc:  # any transport/server failure must still give an answer
            log.warning("LLM call failed: %s: %s", type(exc).__name__, exc)
            if self.breaker is not None and not isinstance(exc, LLMUnavailable):
                self.breaker.failure()
            self._failed(turn, reply.language, "llm", exc)
            reply.error = type(exc).__name__
            reply.grounded = False
            reply.status = Status.ERROR
            reply.citations = []
            fallback = message("llm_unavailable", reply.language)
            yield ("\n\n" + fallback) if reply.text else fallback
            return
        if not reply.text.strip():
            reply.status, reply.grounded, reply.citations = Status.NO_ANSWER, False, []
            reply.offer_handoff = self._can_hand_off
            yield message("no_answer", reply.language)

    # --- generation -----------------------------------------------------------------------

    def _small_talk(self, turn: Turn, language: str, changes: dict) -> Reply:
        reply = Reply(language, 0.0, [], False, status=Status.SMALL_TALK)

        def tokens() -> Iterator[str]:
            fallback = message("greeting", language)
            try:
                chain = SMALL_TALK_PROMPT | self.model("small_talk") | StrOutputParser()
                text = chain.invoke(
                    {
                        "question": as_data(turn.text),
                        "register": register_for(language),
                        "language_name": language_name(language),
                    }
                ).strip()
            except Exception as exc:
                log.warning("small talk generation failed: %s", type(exc).__name__)
                text = ""
            if (
                not text
                or NOT_COVERED_PATTERN.search(text)
                or reply_language_share(text, language) < 1.0
            ):
                text = fallback
            yield text

        reply.stream_from(tokens())
        reply.add_done_callback(lambda r: self._remember(turn, r, changes))
        return reply

    # --- handoff --------------------------------------------------------------------------

    def start_handoff(
        self, turn: Turn, *, reason: str = "api", language: str | None = None
    ) -> Reply:
        """Hand the conversation to a person (an adapter's button, or the API)."""
        started = time.perf_counter()
        return self._observed(
            self._start_handoff(turn, reason=reason, language=language), turn, started
        )

    def _start_handoff(
        self, turn: Turn, *, reason: str, language: str | None = None, changes: dict | None = None
    ) -> Reply:
        key = turn.conversation_id
        state = self.conversations.state(key)
        language = language or state.locked_language or state.language or self.default_language
        if state.handed_off:  # asked twice: one event is enough
            return Reply(language, 0.0, [], False, status=Status.HANDED_OFF)
        service = self.handoff_service
        if service is None or not self._can_hand_off:
            return self._fixed(
                turn,
                language,
                "handoff_unavailable",
                status=Status.HANDOFF_UNAVAILABLE,
                changes=changes,
            )
        refusal = service.refusal(key, turn.address)
        if refusal:  # asked too often, or the team's queue is full: try again later
            return self._fixed(
                turn,
                language,
                "slow_down" if refusal == "rate_limited" else "busy",
                status=Status.HANDOFF_LIMITED,
                changes=changes,
            )
        history = self.conversations.messages(key)
        if turn.text.strip():
            history = [*history, Message(Role.HUMAN, turn.text.strip(), language)]
        # Saved now, not when the reply is read: the team is told at once.
        self._update_state(
            key,
            {
                **(changes or {}),
                "handed_off": True,
                "handed_off_at": time.time(),
                "offered_handoff": False,
            },
        )

        def undo(_event: HandoffEvent) -> None:  # nobody was told: let the bot answer again
            self._update_state(key, {"handed_off": False})

        def delivered(event: HandoffEvent) -> None:  # where the customer's next words go
            for notifier, thread in event.threads.items():
                self.team.link_thread(key, notifier, thread)

        reply = self._fixed(turn, language, "handoff_started", status=Status.HANDOFF)
        reply.handoff_summarised = Future()
        reply.handoff = service.submit(
            key,
            language,
            history,
            reason,
            user=turn.user,
            channel=turn.channel,
            on_failure=undo,
            summarised=reply.handoff_summarised,
            on_delivered=delivered,
        )
        return reply

    @property
    def _can_hand_off(self) -> bool:
        return self.handoff_service is not None and self.handoff_service.configured

    def release(self, conversation_id: str) -> bool:
        """A person is done: the bot answers this conversation again, and the customer is
        told so."""
        return self.team.release(conversation_id)

    def record_feedback(
        self, conversation_id: str, reply_id: str, rating: str, comment: str = ""
    ) -> bool:
        """👍/👎 on one reply, kept with the conversation. False: no such reply in it."""
        return self.desk.rate(conversation_id, reply_id, rating, comment)

    # --- bookkeeping ----------------------------------------------------------------------

    def _failed(self, turn: Turn, language: str, stage: str, exc: Exception) -> None:
        if self.failed_turns is None:
            return
        try:
            self.failed_turns(
                {
                    "at": time.time(),
                    "conversation": turn.conversation_id,
                    "channel": turn.channel,
                    "user": turn.user,
                    "text": turn.text,
                    "language": language,
                    "stage": stage,
                    "error": type(exc).__name__,
                }
            )
        except Exception as error:  # the apology matters more than the record
            log.warning("could not record the failed turn: %s", error)

    def _fixed(
        self,
        turn: Turn,
        language: str,
        key: str,
        *,
        status: Status,
        confidence: float = 0.0,
        record: bool = True,
        query: str = "",
        offer_handoff: bool = False,
        changes: dict | None = None,
    ) -> Reply:
        reply = Reply(
            language=language,
            confidence=confidence,
            citations=[],
            grounded=False,
            status=status,
            query=query,
            offer_handoff=offer_handoff and self._can_hand_off,
        )
        reply.stream_from(iter([message(key, language)]))
        if record:
            reply.add_done_callback(lambda r: self._remember(turn, r, changes))
        return reply

    def _remember(self, turn: Turn, reply: Reply, changes: dict | None = None) -> None:
        key = turn.conversation_id
        said = turn.text.strip()
        messages = [Message(Role.HUMAN, said, reply.language)] if said else []
        self.conversations.append(
            key, *messages, Message(Role.AI, reply.text, reply.language, id=reply.id)
        )
        # "I don't know" offers a person in its text, even with no handoff channel set up: a
        # "yes" then gets an honest "a person can't be reached from here".
        self._update_state(
            key,
            {
                "offered_handoff": reply.status == Status.NO_ANSWER,
                **(changes or {}),
                "language": reply.language,
            },
        )

    def _update_state(self, key: str, changes: dict) -> None:
        """Changes only these fields, atomically: a handoff or release saved while this turn
        was streaming is kept."""
        self.conversations.update_state(key, changes)


def _only_a_request(text: str) -> bool:
    """'Answer in English, please' asks nothing else; 'In English: how long…?' does."""
    size, cjk = text_size(text)
    return size <= (14 if cjk else _SHORT_REQUEST_WORDS)
