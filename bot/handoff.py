"""Human handoff: spotting the request, and telling the team (webhook and/or a Slack channel).

The event carries the conversation key, the customer's language, a short English summary and
the transcript with an English translation, so an agent who reads no Arabic can still take over.
While a person has the conversation the engine stays quiet; ``Engine.release`` gives it back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from common.language import language_name

from .conversations import Message
from .prompts import SUMMARY_PROMPT, TRANSLATE_TRANSCRIPT_PROMPT, as_data
from .team_chat import CustomerMessageEvent

log = logging.getLogger(__name__)

# A request for a person needs a verb aimed at one ("talk to a human", "hablar con una
# persona", "担当者につないで"): a person merely mentioned ("the person who received it",
# 人工皮革) is not a request.
_ASKS_FOR_HUMAN = re.compile(
    r"\b(?:talk|speak|chat)\w*\s+(?:to|with)\s+(?:a\s+|an\s+|some\s*one\s+|the\s+)?(?:real\s+|"
    r"live\s+|actual\s+)?(?:human|person|agent|someone|somebody|representative|operator|staff|"
    r"people)\b"
    r"|\b(?:connect|transfer|put)\s+me\s+(?:through\s+)?(?:to|with)\s+(?:a\s+|an\s+|the\s+)?"
    r"(?:real\s+|live\s+)?(?:human|person|agent|representative|operator|someone)\b"
    r"|\b(?:real person|live agent|human agent)\b"
    r"|\b(?:hablar|comunicarme|háblame)\s+con\s+(?:una?\s+)?(?:persona|humano|agente|operador)"
    r"|\b(?:parler|discuter)\s+(?:à|avec)\s+(?:une?\s+)?(?:personne|humain|conseiller|agent|"
    r"opérateur)"
    r"|\bmit\s+(?:einem|einer)\s+(?:echten\s+)?(?:Menschen|Person|Mitarbeiter\w*|Berater\w*)\s+"
    r"(?:sprechen|reden|verbinden)"
    r"|\b(?:parlare|comunicare)\s+con\s+(?:una?\s+|un'\s*)?(?:persona|operatore|umano|agente)"
    r"|\b(?:falar|conversar)\s+com\s+(?:uma?\s+)?(?:pessoa|humano|atendente|agente)"
    r"|(?:担当者|オペレーター|スタッフ|人間)(?:と話|に(?:つな|繋|代わ|変わ))|有人対応"
    r"|转人工|人工客服|人工服务|真人客服|找(?:个)?真人|和真人"
    r"|상담원(?:과|이랑|하고|에게|을|를|\s?연결)|사람(?:과|이랑|하고)\s?(?:이야기|얘기|대화|통화)"
    r"|(?:التحدث|أتحدث|أريد التحدث|أكلم|كلمني|وصلني|حولني)\s+(?:مع|إلى|الى|ب)?\s*"
    r"(?:موظف|إنسان|شخص|ممثل|وكيل)"
    # "cho tôi nói chuyện với nhân viên", "tôi muốn gặp người thật"; not the courier
    # ("chưa gặp nhân viên giao hàng"), nor "shop có cần nhân viên không?" (hiring)
    r"|\b(?:nói\s+chuyện|trò\s+chuyện|chat|gặp|liên\s+hệ|kết\s+nối|nối\s+máy|chuyển)\s+"
    r"(?:(?:với|cho|sang|tới|đến|qua)\s+)?(?:(?:một|1)\s+)?(?:nhân\s+viên|người\s+thật|"
    r"người\s+thực|tư\s+vấn\s+viên|người\s+hỗ\s+trợ|bộ\s+phận\s+(?:chăm\s+sóc|hỗ\s+trợ)|"
    r"cskh|admin)(?!\w|\s+(?:giao|vận|bưu|kho|shipper))"
    # "müşteri temsilcisiyle görüşmek istiyorum", "beni bir yetkiliye bağlayın", "canlı destek",
    # "gerçek bir insan"; not "gerçek kişi" (a natural person, on invoices)
    r"|\b(?:temsilci\w*|yetkili\w*|operatör\w*|insan(?:la|a|ile)?|biri(?:si)?(?:yle|ne)?|"
    r"personel\w*|danışman\w*)\s+(?:ile\s+)?(?:görüş|konuş|bağla|aktar|yönlendir)\w*"
    r"|\b(?:bağla|aktar|yönlendir)\w*\s+(?:beni\s+)?(?:bir\s+)?(?:müşteri\s+)?"
    r"(?:temsilci|yetkili|operatör|insan)\w*"
    r"|\bcanlı\s+(?:destek|temsilci)|\bgerçek\s+(?:bir\s+)?insan"
    r"|^\W*(?:human|agent|operator|humano|agente|humain|Mensch|umano|operatore|atendente|"
    r"人工|担当者|상담원|موظف|nhân\s+viên|người\s+thật|tư\s+vấn\s+viên|temsilci|"
    r"müşteri\s+temsilcisi|yetkili|operatör|insan)\W*$",
    re.IGNORECASE,
)
# Clear yes-words only: "ok" to "rephrase, or talk to a person?" is not a yes to the person
# (nor "tamam", "được", which say "ok"). The whole message is the yes and polite words, so the
# Vietnamese "có" of "Có giao hàng đến Nhật không?" is not one.
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|sure|sí|si|claro|oui|ja|gerne|sim|sì|certo|はい|是|是的|네|예|نعم|أجل|"
    r"(?:dạ\W+)?(?:vâng|có|có\s+chứ|muốn)|dạ|ừ|tất\s+nhiên|"
    r"evet|olur|tabii(?:\s+ki)?|tabi|elbette)"
    r"(?:\W+(?:please|por favor|s'il vous plaît|bitte|per favore|por favor|お願いします|谢谢|请|"
    r"주세요|부탁드려요|من فضلك|gracias|merci|danke|grazie|obrigad[oa]|"
    r"ạ|nhé|nha|làm\s+ơn|cảm\s+ơn(?:\s+bạn|\s+shop)?|cám\s+ơn|(?:tôi|mình|em)\s+muốn|"
    r"lütfen|teşekkürler|teşekkür\s+ederim|sağ\s+olun|isterim|memnuniyetle))*\W*$",
    re.IGNORECASE,
)


def asks_for_human(text: str) -> bool:
    return bool(_ASKS_FOR_HUMAN.search(text))


def is_yes(text: str) -> bool:
    return bool(_YES.match(text.strip()))


@dataclass
class HandoffEvent:
    conversation: str
    language: str
    summary: str  # English, for the agent
    transcript: list[dict]  # {role, text, text_en}
    reason: str  # "customer_asked" | "offered_and_accepted" | "api"
    user: str = ""
    channel: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    delivered: bool = False  # set once at least one channel took it
    threads: dict[str, str] = field(default_factory=dict)  # notifier -> where it posted it

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("delivered")
        data.pop("threads")
        return {"type": "linguadesk.handoff", **data, "language_name": language_name(self.language)}


class HandoffDeliveryError(RuntimeError):
    pass


SIGNATURE_TOLERANCE_S = 300


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``, as in the
    ``X-Linguadesk-Signature`` header."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver checks (see docs/security.md): the signature over the timestamp and the
    raw body, and a timestamp within ``tolerance_s`` of now, so a recorded request cannot be
    replayed later. ``headers``: any mapping with lower-case or canonical names."""
    lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    timestamp = lowered.get("x-linguadesk-timestamp", "")
    signature = lowered.get("x-linguadesk-signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(
        signature.encode("utf-8", "replace"), webhook_signature(secret, timestamp, body).encode()
    )


class WebhookNotifier:
    """POSTs the event as JSON, signed (``X-Linguadesk-Timestamp`` and
    ``X-Linguadesk-Signature: sha256=<hex HMAC of "timestamp.body">``), retried with backoff.
    The customer's later messages follow as ``linguadesk.customer_message`` events."""

    name = "webhook"
    threaded = False

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        if not secret:
            raise ValueError("a handoff webhook needs a signing secret")
        self.url, self.secret = url, secret
        self.timeout_s, self.attempts, self.backoff_s = timeout_s, attempts, backoff_s

    def send(self, event: HandoffEvent) -> None:
        self._post(event.as_json())

    def relay(self, event: CustomerMessageEvent, thread: str | None = None) -> None:
        self._post(event.as_json())

    def _post(self, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        problem = ""
        for attempt in range(self.attempts):
            timestamp = str(int(time.time()))  # each try signed anew: retries stay in the window
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "linguadesk-handoff",
                "X-Linguadesk-Timestamp": timestamp,
                "X-Linguadesk-Signature": webhook_signature(self.secret, timestamp, body),
            }
            try:
                response = httpx.post(
                    self.url, content=body, headers=headers, timeout=self.timeout_s
                )
                if response.status_code < 300:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # the receiver refuses it; retrying will not help
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            time.sleep(self.backoff_s * 2**attempt)
        raise HandoffDeliveryError(f"webhook {httpx.URL(self.url).host}: {problem}")


class Notifier(Protocol):
    """Tells the team about a handoff (:class:`WebhookNotifier`, the Slack adapter's);
    raises when it could not. ``send`` may return where it posted it (a Slack thread), for the
    conversation's later messages; ``relay`` (optional) posts those (bot/team_chat.py)."""

    name: str

    def send(self, event: HandoffEvent) -> str | None: ...


class HandoffService:
    """Builds the event (summary and translation by the LLM) and delivers it in the background,
    so the customer gets the handoff message at once."""

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        llm: BaseChatModel | Callable[[], BaseChatModel] | None,
        outbox: Path,
        *,
        transcript_messages: int = 12,
        queue_max: int = 50,
        per_conversation: str = "3/hour",
        per_address: str = "10/hour",
        limits_storage: str = "memory://",
    ) -> None:
        self.notifiers = notifiers
        self._llm_or_factory = llm
        self.outbox = outbox
        self.transcript_messages = transcript_messages
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="handoff")
        self.queue_max = queue_max
        self._pending = 0
        self._lock = threading.Lock()
        self._limiter = MovingWindowRateLimiter(storage_from_string(limits_storage))
        self._per_conversation = parse(per_conversation)
        self._per_address = parse(per_address)

    def refusal(self, conversation: str, address: str = "") -> str | None:
        """Why a new handoff for this conversation (from this address, where the adapter knows
        one) is refused now: "rate_limited" (asked too often), "busy" (the queue is full), or
        None. Counts the attempt, however it was asked for (button, words, a yes)."""
        with self._lock:
            if self._pending >= self.queue_max:
                return "busy"
        if not self._limiter.hit(self._per_conversation, "linguadesk", "handoff", conversation):
            return "rate_limited"
        if address and not self._limiter.hit(
            self._per_address, "linguadesk", "handoff-address", address
        ):
            return "rate_limited"
        return None

    @property
    def _llm(self) -> BaseChatModel | None:
        llm = self._llm_or_factory
        return llm() if callable(llm) and not isinstance(llm, BaseChatModel) else llm

    @property
    def configured(self) -> bool:
        return bool(self.notifiers)

    def submit(
        self,
        conversation: str,
        language: str,
        history: list[Message],
        reason: str,
        *,
        user: str = "",
        channel: str = "",
        on_failure: Callable[[HandoffEvent], None] | None = None,
        summarised: Future | None = None,
        on_delivered: Callable[[HandoffEvent], None] | None = None,
    ) -> Future[HandoffEvent]:
        """``summarised`` is set once the LLM work is done (before delivery, which may wait on
        a slow receiver); ``on_delivered`` is called with the event (and its threads) once
        some channel took it."""
        with self._lock:
            self._pending += 1
        future = self._pool.submit(
            self._run,
            conversation,
            language,
            history,
            reason,
            user,
            channel,
            on_failure,
            summarised,
            on_delivered,
        )
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future) -> None:
        with self._lock:
            self._pending -= 1

    def _run(
        self,
        conversation: str,
        language: str,
        history: list[Message],
        reason: str,
        user: str,
        channel: str,
        on_failure: Callable[[HandoffEvent], None] | None,
        summarised: Future | None = None,
        on_delivered: Callable[[HandoffEvent], None] | None = None,
    ) -> HandoffEvent:
        try:
            event = self.build_event(conversation, language, history, reason, user, channel)
        except Exception as exc:  # never lose the handoff over a summary
            log.warning("building the handoff summary failed: %s", type(exc).__name__)
            event = self._plain_event(conversation, language, history, reason, user, channel)
        finally:
            if summarised is not None and not summarised.done():
                summarised.set_result(None)
        failures: list[str] = []
        for notifier in self.notifiers:
            try:
                thread = notifier.send(event)
                event.delivered = True
                if thread:
                    event.threads[getattr(notifier, "name", type(notifier).__name__)] = thread
            except Exception as exc:  # HandoffDeliveryError, or a bad URL/config
                failures.append(
                    str(exc) if isinstance(exc, HandoffDeliveryError) else type(exc).__name__
                )
        if not event.delivered:
            try:
                self._save(event)
                where = f"saved to {self.outbox}"
            except OSError as exc:
                where = f"and could not be saved ({type(exc).__name__})"
            log.error(
                "handoff %s for %s not delivered (%s); %s. Check the handoff webhook/Slack "
                "settings; the bot answers the conversation again.",
                event.id,
                conversation,
                "; ".join(failures) or "no channel",
                where,
            )
            if on_failure:
                on_failure(event)
        else:
            if failures:
                log.warning(
                    "handoff %s delivered, but not everywhere: %s", event.id, "; ".join(failures)
                )
            else:
                log.info("handoff %s for %s delivered", event.id, conversation)
            if on_delivered:
                on_delivered(event)
        return event

    def _plain_event(
        self,
        conversation: str,
        language: str,
        history: list[Message],
        reason: str,
        user: str,
        channel: str,
    ) -> HandoffEvent:
        recent = history[-self.transcript_messages :]
        transcript = [
            {"role": m.role, "text": m.text, "text_en": m.text if language == "en" else ""}
            for m in recent
        ]
        summary = f"Customer ({language_name(language)}) asked for a person. Last message: " + next(
            (m.text for m in reversed(recent) if m.role == "human"), ""
        )
        return HandoffEvent(conversation, language, summary, transcript, reason, user, channel)

    def build_event(
        self,
        conversation: str,
        language: str,
        history: list[Message],
        reason: str,
        user: str = "",
        channel: str = "",
    ) -> HandoffEvent:
        event = self._plain_event(conversation, language, history, reason, user, channel)
        recent = history[-self.transcript_messages :]
        llm = self._llm if recent else None
        if llm is None:
            return event
        numbered = "\n".join(
            f"[{n}] {'Customer' if m.role == 'human' else 'Bot'}: "
            f"{as_data(' '.join(m.text.split()))}"
            for n, m in enumerate(recent, start=1)
        )
        try:
            summary = (
                (SUMMARY_PROMPT | llm | StrOutputParser()).invoke({"transcript": numbered}).strip()
            )
            event.summary = summary or event.summary
            if language != "en":
                translated = (TRANSLATE_TRANSCRIPT_PROMPT | llm | StrOutputParser()).invoke(
                    {"transcript": numbered}
                )
                _attach_translation(event.transcript, translated)
        except Exception as exc:  # the agent still gets the original transcript
            log.warning("handoff summary/translation failed: %s", type(exc).__name__)
        return event

    def _save(self, event: HandoffEvent) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)
        path = self.outbox / f"{time.strftime('%Y%m%dT%H%M%S')}-{event.id}.json"
        path.write_text(json.dumps(event.as_json(), ensure_ascii=False, indent=1), "utf-8")


def clipped(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _attach_translation(transcript: list[dict], translated: str) -> None:
    """Matches translated lines to messages by their [n]; a line the model dropped or merged
    leaves that message with its original text only."""
    found = 0
    for match in re.finditer(
        r"^\s*\[(\d+)\]\s*(?:Customer|Bot)?\s*:?\s*(.+)$", translated, re.MULTILINE
    ):
        n = int(match.group(1))
        if 1 <= n <= len(transcript) and not transcript[n - 1]["text_en"]:
            transcript[n - 1]["text_en"] = match.group(2).strip()
            found += 1
    if found < len(transcript):
        log.warning("transcript translation covered %d of %d messages", found, len(transcript))
