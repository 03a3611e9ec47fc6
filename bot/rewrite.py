"""Follow-ups ("and to Canada?", "それは返品できますか") rewritten into standalone questions.

A cheap check runs first; the LLM rewrites only messages that lean on the conversation:
referring words (it, they, eso, それ, 它, nó, bunu…) or very short messages. The rewrite is written
in the knowledge base's main language, the language retrieval matches best.
"""

from __future__ import annotations

import logging
import re

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable

from common.language import language_name, text_size

from .conversations import Message, within_budget
from .prompts import REWRITE_EXAMPLE_NAMES, REWRITE_PLAIN_PROMPT, REWRITE_PROMPT, as_data

log = logging.getLogger(__name__)

# Pronouns, "there", "also"… and conjunctions that open a follow-up ("and to Canada?").
_REFERRING = re.compile(
    r"\b(?:it|its|they|them|their|there|that|this|those|these|same|also|too|else|"
    r"eso|esto|ese|esa|esos|esas|ellos|ellas|allí|ahí|allá|también|"
    r"ça|cela|ceci|celui|celle|ceux|aussi|"
    r"dies|dort|dafür|davon|damit|dazu|auch|"
    r"quello|quella|questo|questa|anche|"
    r"isso|isto|aquilo|lá|ali|também|"
    r"ذلك|هذا|هذه|تلك|هناك|أيضا|أيضًا|"
    # Vietnamese: "nó", "đó" (not "nào đó", "đâu đó": some…), "như vậy"; "vậy" alone is a
    # question particle ("Shop có free ship không vậy?")
    r"nó|(?<!nào\s)(?<!đâu\s)đó|cái\s+(?:này|kia|đấy)|ở\s+(?:đấy|kia)|chỗ\s+(?:này|kia|đấy)|"
    r"như\s+(?:vậy|thế)|vậy\s+(?:thì|còn)|thế\s+(?:thì|còn)|thì\s+sao|cũng|"
    # Turkish: not the bare "o" (Portuguese, Spanish, Italian) nor "de/da" (also)
    r"bu|bunu|bunun|buna|bundan|bunlar\w*|şu|şunu|şunun|şuna|onu|onun|ona|ondan|onlar\w*|"
    r"orada|orası|oraya|burada|burası|aynı|peki|için\s+de|o\s+(?:ürün\w*|sipariş\w*|"
    r"paket\w*|kargo\w*|zaman))\b"
    r"|^\W*(?:and|what about|how about|y|et|und|e|و|ماذا عن|còn|và|vậy)\b"
    r"|\b(?:the|el|la|le|der|die|das|il|lo|o|a)\s+(?:restaurant|restaurante|hotel|hôtel|place|"
    r"guest ?house|shop|store|tienda|boutique|laden|product|producto|produit|produkt|item|"
    r"artículo|article|artikel|order|pedido|commande|bestellung|ordine|encomenda|package|"
    r"parcel|paquete|colis|paket|case|one)\b"
    r"|それ|これ|あれ|その|この|あの|そこ|そちら|も[?？]?$|は[?？]$"
    r"|它|这个|那个|那|呢[?？]?$|那里|这里"
    r"|그것|그거|이것|이거|거기|그럼|도[?？]?$",
    re.IGNORECASE,
)
SHORT_WORDS = 4
SHORT_CJK_CHARS = 8


def needs_rewrite(text: str, history: list[Message]) -> bool:
    """True when the message probably cannot be understood without the conversation."""
    if not any(m.role == "human" for m in history):
        return False
    text = text.strip()
    size, cjk = text_size(text)
    return size <= (SHORT_CJK_CHARS if cjk else SHORT_WORDS) or bool(_REFERRING.search(text))


def format_conversation(
    history: list[Message], max_tokens: int = 600, max_reply_chars: int = 300
) -> str:
    lines = []
    for m in within_budget(history, max_tokens):
        if m.role == "human":
            lines.append(f"Customer: {as_data(m.text)}")
        else:
            text = m.text if len(m.text) <= max_reply_chars else m.text[:max_reply_chars] + "…"
            lines.append(f"Assistant: {as_data(text)}")
    return "\n".join(lines)


_PREFIX = re.compile(r"^(?:standalone question|question|rewritten)[^:：]*[:：]\s*", re.IGNORECASE)


def clean_rewrite(output: str, original: str) -> str:
    """The first line of the model's output, without labels or quotes; the original message
    when the output is unusable (empty, or rambling far beyond a question)."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return original
    question = _PREFIX.sub("", lines[0]).strip().strip("\"'“”「」«»`").strip()
    if not question or len(question) > 3 * len(original) + 200:
        return original
    return question


class QueryRewriter:
    def __init__(self, llm: Runnable, *, history_tokens: int = 600) -> None:
        self.chain = REWRITE_PROMPT | llm | StrOutputParser()
        self.plain_chain = REWRITE_PLAIN_PROMPT | llm | StrOutputParser()
        self.history_tokens = history_tokens

    def rewrite(self, text: str, history: list[Message], language: str) -> str:
        """The standalone question, or ``text`` unchanged if the model fails."""
        conversation = format_conversation(history, self.history_tokens)
        values = {
            "conversation": conversation,
            "question": as_data(text),
            "language_name": language_name(language),
        }
        try:
            question = clean_rewrite(self.chain.invoke(values), text)
            if copied_example(question, conversation + "\n" + text):
                log.info("the rewrite copied a worked example; asked again without them")
                question = clean_rewrite(self.plain_chain.invoke(values), text)
        except Exception as exc:  # the turn still works with the raw message
            log.warning("rewriting the follow-up failed: %s: %s", type(exc).__name__, exc)
            return text
        return question


def copied_example(question: str, conversation: str) -> bool:
    """Whether the rewrite names a thing of the prompt's worked examples that the conversation
    never named ("それは返品できますか" after a leather case became "Can you return the blue
    hiking backpack…")."""
    asked, said = question.lower(), conversation.lower()
    return any(name in asked and name not in said for name in REWRITE_EXAMPLE_NAMES)
