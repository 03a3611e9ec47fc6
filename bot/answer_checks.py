"""What a reply must pass before a customer sees it; ``eval answers`` judges with the same code.

Each check returns :class:`Problem`\\ s, empty when the text passes:

- :func:`figure_problems`: every figure (amount and currency, number, time, percentage,
  e-mail address, URL) is one of the entry's, compared after normalisation (``2,90 €`` is
  ``€2.90``), and no currency or time unit appears that the entry lacks;
- :func:`clean_problems`: no control marker, prompt tag or placeholder, bare ``[n]``, numbered
  dump of entries, question echoed back, or text without content;
- :func:`language_problems`: every sentence, down to a one-word "Sí.", is in the reply's
  language (script, detector, a foreign yes/no word, English function words); a product name
  or quoted label taken from the entry is allowed and reported;
- :func:`claim_problems`: no country, weekday or name the customer asked about that the entry
  does not have ("Do you ship to Mexico?" → "We ship to Mexico"), and an opening yes/no only
  where the entry's own answer opens with it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from functools import lru_cache

from babel import Locale, UnknownLocaleError

from common.language import base_language, detect_language, split_sentences


@dataclass(frozen=True)
class Problem:
    check: str  # figures | clean | language | claim
    detail: str  # for people and for the model's second try; English

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


@dataclass
class Verdict:
    problems: list[Problem] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)  # foreign words let through, and why

    @property
    def ok(self) -> bool:
        return not self.problems


# --- figures -------------------------------------------------------------------------------

_DIGITS = {ord(c): str(unicodedata.digit(c)) for c in "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹"}
_DIGITS.update({ord("٫"): ".", ord("٬"): ",", ord("\u066a"): "%"})
_MARK = re.compile(r"\[\d{1,2}\]")
_URL = re.compile(
    r"https?://[A-Za-z0-9._~:/?#\[\]@!$&*+,;=%-]+"
    r"|\b(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[A-Za-z0-9._~/?#=%&-]*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_TIME = re.compile(r"(?<![\d.,:])([01]?\d|2[0-3])[:h]([0-5]\d)(?![\d%])")
_NUMBER = re.compile(
    r"\d{1,3}(?:(?:[.,]|[\u00a0\u202f ](?=\d{3}(?!\d)))\d{3})+(?:[.,]\d+)?(?!\d)"
    r"|\d+(?:[.,]\d+)?"
)
_LIST_MARKER = re.compile(r"(?m)^\s*\d{1,2}[.)](?:\s+|$)")

# Currency spellings, longest first so that 欧元 is the euro, not the yuan's 元.
_CURRENCIES = {
    "EUR": [
        "€",
        "EUR",
        "euros",
        "euro",
        "Euro",
        "Euros",
        "евро",
        "유로",
        "ユーロ",
        "欧元",
        "歐元",
        "يورو",
        "avro",
        "Avro",
    ],
    "USD": [
        "US$",
        "$",
        "USD",
        "dollars",
        "dollar",
        "dólares",
        "dólar",
        "dollari",
        "dollaro",
        "달러",
        "ドル",
        "美元",
        "دولار",
        "đô la",
        "dolar",
    ],
    "GBP": [
        "£",
        "GBP",
        "pounds",
        "libras",
        "livres",
        "sterline",
        "파운드",
        "ポンド",
        "英镑",
        "جنيه",
    ],
    "JPY": ["¥", "JPY", "円", "日元", "엔", "yen", "yenes", "ين"],
    "CNY": ["CNY", "RMB", "人民币", "yuan", "위안", "人民元", "يوان", "元", "块"],
    "KRW": ["₩", "KRW", "원", "韩元", "ウォン", "won", "وون"],
    "CAD": ["CA$", "C$", "CAD"],
    "AUD": ["A$", "AU$", "AUD"],
    "CHF": ["CHF", "Franken", "francs suisses"],
    "TRY": ["₺", "TRY", "TL", "lira"],
    "VND": ["₫", "VND", "đồng", "đ"],
    "SAR": ["SAR", "ريال", "﷼"],
    "AED": ["AED", "درهم"],
    "BRL": ["R$", "BRL", "reais"],
}
_CURRENCY_WORDS = sorted(
    ((s, code) for code, spellings in _CURRENCIES.items() for s in spellings),
    key=lambda item: -len(item[0]),
)
_CURRENCY_OF = dict(_CURRENCY_WORDS)


_SYMBOL_ONLY = set("€$£¥₩₫₺﷼")
# Currency words that are also ordinary words or parts of them ("won't", "đồng ý", "بين"):
# they count only right next to a number.
_NEXT_TO_NUMBER = {
    "won",
    "đồng",
    "đ",
    "ين",
    "元",
    "块",
    "원",
    "엔",
    "lira",
    "yen",
    "dolar",
    "real",
    "TL",
    "ريال",
    "درهم",
    "جنيه",
    "دولار",
    "يورو",
    "وون",
    "يوان",
}


def _bounded(word: str) -> str:
    escaped = re.escape(word)
    if (
        word in _NEXT_TO_NUMBER
        or not re.search(r"[A-Za-zÀ-ÿ]", word)
        and len(word) > 1
        and not set(word) <= _SYMBOL_ONLY
        and not re.fullmatch(r"[A-Z$]+", word)
    ):
        after = r"(?![^\W\d_])" if re.search(r"[A-Za-zÀ-ÿ]", word) else ""
        return rf"(?<=\d){escaped}{after}|(?<=\d ){escaped}{after}|{escaped}(?= ?\d)"
    if re.search(r"[A-Za-zÀ-ÿ]", word):
        return rf"(?<![^\W\d_]){escaped}(?![^\W\d_'’])"
    return escaped


_CURRENCY = re.compile("|".join(_bounded(word) for word, _ in _CURRENCY_WORDS))

# Time units after a number ("30 days", "30日", "30일", "30 ngày", "30 gün").
_UNITS = {
    "minute": r"minutes?|min|minutos?|minuti|minuten?|分钟|分|분|دقائق|دقيقة|phút|dakika\w*",
    "hour": r"hours?|hrs?|horas?|heures?|ore|ora|stunden?|時間|小时|小時|시간|ساعات|ساعة|giờ|saat\w*",
    "day": r"(?:business |working |calendar )?days?|営業日|个工作日|個工作日|工作日|영업일|d[ií]as?(?: laborables| hábiles| úteis)?|"
    r"jours?(?: ouvrés| ouvrables)?|giorni(?: lavorativi)?|giorno|(?:werk|arbeits)?tage?n?|"
    r"dias?(?: úteis)?|日|天|일|أيام|يوم|ngày|(?:iş )?gün\w*",
    "week": r"weeks?|semanas?|semaines?|settimane?|wochen?|週間|週|周|주|أسابيع|أسبوع|tuần|hafta\w*",
    "month": r"months?|meses|mes|mois|mesi|mese|monate?n?|か月|ヶ月|ケ月|个月|個月|개월|أشهر|شهر|tháng|ay",
    "year": r"years?|años?|ans?|années?|anni|anno|jahre?n?|jahr|anos?|年|년|سنوات|سنة|năm|yıl\w*",
    "percent": r"%|٪|percent|por ciento|pour cent|prozent|per cento|por cento|パーセント|퍼센트",
}
_UNIT = re.compile(
    r"(?<![\d.,:])(\d+)\s?(?:-|–|\s)?\s?("
    + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _UNITS.items())
    + r")(?![A-Za-z\u00c0-\u024f]|元|本|러)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Figures:
    amounts: frozenset[tuple[str, Decimal]]  # (currency or "%", value): "€4.95", "10 %"
    numbers: frozenset[Decimal]
    currencies: frozenset[str]
    units: frozenset[str]
    times: frozenset[str]
    emails: frozenset[str]
    urls: frozenset[str]


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_DIGITS)


def _number(token: str) -> Decimal | None:
    token = re.sub(r"[\u00a0\u202f ]", "", token)
    if "." in token and "," in token:  # the last separator is the decimal one
        decimal = max(token.rfind("."), token.rfind(","))
        token = re.sub(r"[.,]", "", token[:decimal]) + "." + token[decimal + 1 :]
    elif token.count(".") + token.count(",") > 1:
        token = re.sub(r"[.,]", "", token)
    elif m := re.fullmatch(r"(\d+)[.,](\d+)", token):
        # "1.000" / "1,000" are a thousand; "4,95" / "4.95" a decimal.
        token = m[1] + m[2] if len(m[2]) == 3 else f"{m[1]}.{m[2]}"
    try:
        return Decimal(token).normalize()
    except InvalidOperation:
        return None


def figures(text: str) -> Figures:
    text = _MARK.sub(" ", _plain(text))
    urls = {u.rstrip(".,;:!?)。、").lower() for u in _URL.findall(text)}
    text = _URL.sub(" ", text)
    emails = {e.rstrip(".").lower() for e in _EMAIL.findall(text)}
    text = _EMAIL.sub(" ", text)
    currencies = {_CURRENCY_OF[m.group(0)] for m in _CURRENCY.finditer(text)}
    amounts = set()
    for m in _CURRENCY.finditer(text):
        code = _CURRENCY_OF[m.group(0)]
        before = re.search(r"(\d[\d.,\u00a0\u202f ]*\d|\d)[\s\u00a0\u202f]?$", text[: m.start()])
        after = re.match(r"[\s\u00a0\u202f]?(\d[\d.,\u00a0\u202f]*\d|\d)", text[m.end() :])
        for found in (before, after):
            if found and (value := _number(found.group(1).strip())) is not None:
                amounts.add((code, value))
    for m in re.finditer(r"(\d+(?:[.,]\d+)?)\s?[%٪]|[%٪]\s?(\d+(?:[.,]\d+)?)", text):
        if (value := _number(m.group(1) or m.group(2))) is not None:
            amounts.add(("%", value))
    units = {next(name for name in _UNITS if m.group(name)) for m in _UNIT.finditer(text)}
    times = {f"{int(h):02d}:{mm}" for h, mm in _TIME.findall(text)}
    text = _LIST_MARKER.sub(" ", text)
    numbers = {n for token in _NUMBER.findall(text) if (n := _number(token)) is not None}
    for h, mm in _TIME.findall(text):  # "9:00" also holds the numbers 9 and 0
        numbers |= {Decimal(int(h)), Decimal(int(mm))}
    return Figures(
        frozenset(amounts),
        frozenset(numbers),
        frozenset(currencies),
        frozenset(units),
        frozenset(times),
        frozenset(emails),
        frozenset(urls),
    )


def _shown(value: str | Decimal | tuple[str, Decimal]) -> str:
    if isinstance(value, tuple):
        return f"{_shown(value[1])} {value[0]}"
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def figure_problems(reply: str, sources: list[str], question: str = "") -> list[Problem]:
    """Figures of ``reply`` that none of ``sources`` has. Numbers the customer wrote in
    ``question`` ("I ordered 3 weeks ago") may be repeated."""
    got = figures(reply)
    known = [figures(s) for s in sources]
    asked = figures(question)
    numbers = set().union(*(k.numbers for k in known)) | asked.numbers
    problems = []
    for label, values, allowed in (
        ("price or percentage", got.amounts, set().union(*(k.amounts for k in known))),
        ("amount or number", got.numbers, numbers),
        ("currency", got.currencies, set().union(*(k.currencies for k in known))),
        ("time unit", got.units, set().union(*(k.units for k in known)) | asked.units),
        ("time of day", got.times, set().union(*(k.times for k in known)) | asked.times),
        ("e-mail address", got.emails, set().union(*(k.emails for k in known))),
        ("link", got.urls, set().union(*(k.urls for k in known))),
    ):
        extra = sorted(_shown(v) for v in values - allowed)
        if extra:
            problems.append(Problem("figures", f"{label} not in the entry: {', '.join(extra)}"))
    return problems


# --- clean ---------------------------------------------------------------------------------

_MARKER = re.compile(
    r"(?i:[^\W\d]*_covered\b|\bnotcovered\b)|\bNOT[\s_-]*COVERED\b|\bCOVERED\b"
    r"|\b[A-Z]{2,}_[A-Z]{2,}(?:_[A-Z]+)*\b"
)
_TAG = re.compile(
    r"</?\s*[A-Za-z_][\w-]*\s*/?>|<\|[^|<>]{1,40}\|>|\[/?INST\]|<</?SYS>>"
    r"|\{\{?\s*[a-z_]+\s*\}?\}|【\d{1,2}】|^\s*#{2,}\s*\w+"
    r"|^\s*(?:assistant|customer|user|bot|system|answer|response|question|reply|"
    r"customer question|respuesta|réponse|antwort|risposta|resposta|回答|答案|回复|"
    r"答え|답변|대답|الإجابة|الجواب|trả lời|câu trả lời|cevap|yanıt)\s*[:：]",
    re.IGNORECASE | re.MULTILINE,
)
_DUMP_LINE = re.compile(r"(?m)^\s*\[\d{1,2}\]")
_QUESTION_END = re.compile(r"[?？؟]\s*$")


def _letters(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def clean_problems(
    reply: str, question: str = "", sources: list[str] | None = None
) -> list[Problem]:
    problems = []
    known = " ".join(sources or [])
    if m := next((m for m in _MARKER.finditer(reply) if m.group(0) not in known), None):
        problems.append(Problem("clean", f"a control marker reached the text: {m.group(0)!r}"))
    if m := _TAG.search(reply):
        problems.append(Problem("clean", f"a prompt tag or placeholder: {m.group(0).strip()!r}"))
    sentences = split_sentences(reply)
    if any(len(_letters(_MARK.sub("", s))) < 2 and _MARK.search(s) for s in sentences) or (
        _MARK.search(reply) and len(_letters(_MARK.sub("", reply))) < 8
    ):
        problems.append(Problem("clean", "a bare [n] without words"))
    if _DUMP_LINE.search(reply):
        problems.append(Problem("clean", "numbered entries instead of an answer"))
    content = _letters(_MARK.sub("", reply))
    words = _MARK.sub("", reply).split()
    fragment = (
        (
            len(content) <= 8
            if re.search(r"[\u3040-\u9fff\uac00-\ud7af]", reply)
            else len(words) <= 3
        )
        and not re.search(r"[.!?。！？؟۔]\s*$", _MARK.sub("", reply))
        and not _EMAIL.search(reply)
        and not _URL.search(reply)
    )
    if len(content) < 4:
        problems.append(Problem("clean", "no answer in the text"))
    elif fragment:
        problems.append(Problem("clean", "a fragment, not an answer"))
    elif (
        question
        and sentences
        and all(_QUESTION_END.search(s) for s in sentences)
        and (
            SequenceMatcher(None, content, _letters(question)).ratio() >= 0.6 or len(sentences) == 1
        )
    ):
        problems.append(Problem("clean", "the question asked back instead of an answer"))
    return problems


# --- one language --------------------------------------------------------------------------

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_SCRIPTS = {
    "kana": _KANA,
    "han": _HAN,
    "hangul": _HANGUL,
    "arabic": _ARABIC,
    "latin": _LATIN,
    "cyrillic": _CYRILLIC,
}
_EXPECTED_SCRIPTS = {
    "ja": {"kana", "han"},
    "zh": {"han"},
    "ko": {"hangul"},
    "ar": {"arabic"},
    "ru": {"cyrillic"},
}
_LATIN_WORD = re.compile(
    r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff][A-Za-z0-9'’\u00c0-\u024f\u1e00-\u1eff-]*"
)
_QUOTED = re.compile(r"[«“„\"「『]([^»”“\"」』\n]{1,60})[»”“\"」』]")

# The words a yes/no answer opens with, per language (lower case, without accents for none).
# An opener counts only when punctuation or the end follows it: "Có thể…", "네덜란드",
# "不同" and "لاحقًا" start with such a word without being one.
YES_WORDS = {
    "en": ["yes", "yeah", "yep", "sure", "of course", "absolutely", "certainly", "definitely"],
    "es": ["sí", "claro", "por supuesto", "desde luego"],
    "fr": ["oui", "bien sûr", "tout à fait"],
    "de": ["ja", "jawohl", "natürlich", "selbstverständlich", "klar", "gerne", "gern"],
    "it": ["sì", "certo", "certamente"],
    "pt": ["sim", "claro", "com certeza"],
    "zh": ["是的", "是", "可以", "能", "有", "对", "当然可以", "当然"],
    "ja": ["はい", "ええ", "もちろんです", "もちろん"],
    "ko": ["네", "예", "물론입니다", "물론이죠", "물론"],
    "ar": ["نعم", "أجل", "بالتأكيد", "بالطبع", "طبعًا", "طبعا"],
    "vi": ["vâng", "dạ vâng", "dạ có", "có", "được", "đúng vậy", "tất nhiên"],
    "tr": ["evet", "tabii", "tabii ki", "elbette", "kesinlikle"],
}
NO_WORDS = {
    "en": ["no", "nope", "unfortunately not", "unfortunately", "i'm afraid not"],
    "es": ["no", "lamentablemente no", "lamentablemente", "me temo que no"],
    "fr": ["non", "malheureusement non", "malheureusement", "hélas"],
    "de": ["nein", "leider nein", "leider nicht", "leider"],
    "it": ["no", "purtroppo no", "purtroppo"],
    "pt": ["não", "infelizmente não", "infelizmente"],
    "zh": ["不是", "不可以", "不能", "不", "没有", "很抱歉", "抱歉", "遗憾的是"],
    "ja": ["いいえ", "いえ", "残念ながら", "あいにく"],
    "ko": ["아니요", "아니오", "아뇨", "죄송하지만", "안타깝게도", "아쉽게도"],
    "ar": ["لا", "كلا", "للأسف", "مع الأسف"],
    "vi": ["không", "dạ không", "rất tiếc", "tiếc là"],
    "tr": ["hayır", "maalesef hayır", "maalesef", "ne yazık ki"],
}
_AFTER_OPENER = re.compile(r"\s*(?:[,，、.。!！:：;؛،]|$)")
# Openers that may also be followed by a plain space ("Yes we do", "Oui bien sûr"); the rest
# are ordinary words too ("no prazo" is "in the period", "Có thể" is "can").
_SPACED_OPENERS = {
    "yes",
    "yeah",
    "yep",
    "of course",
    "absolutely",
    "certainly",
    "sí",
    "oui",
    "bien sûr",
    "ja",
    "jawohl",
    "natürlich",
    "sì",
    "certo",
    "sim",
    "claro",
    "nein",
    "non",
    "não",
    "hayır",
    "evet",
    "tabii",
    "tabii ki",
    "elbette",
    "vâng",
    "nope",
    "нет",
    "当然可以",
    "当然",
    "물론입니다",
    "물론이죠",
    "طبعًا",
    "نعم",
    "بالطبع",
}
# Words that open sentences of a language without being another language's yes or no.
_OWN_WORDS = {
    "it": {"non", "no"},
    "pt": {"no", "na", "nos"},
    "es": {"no"},
    "fr": {"si"},
    "vi": {"no"},
    "en": {"no"},
}
# English words that are no word of the other supported Latin-script languages ("to" is
# Vietnamese): one of them in a French or Turkish sentence is an English leak.
_ENGLISH_FUNCTION = {
    "the",
    "and",
    "you",
    "your",
    "are",
    "is",
    "with",
    "our",
    "we",
    "can",
    "of",
    "this",
    "that",
    "have",
    "within",
    "after",
    "days",
    "shipping",
    "order",
    "orders",
    "free",
    "refund",
    "refunds",
    "return",
}
_FOREIGN_OPENERS = {
    word: lang
    for lang, words in {**YES_WORDS}.items()
    for word in words
    if _LATIN.search(word) and " " not in word
}
_FOREIGN_OPENERS.update(
    {
        w: lang
        for lang, words in NO_WORDS.items()
        for w in words
        if _LATIN.search(w) and " " not in w
    }
)


# Simplified characters of common Chinese words that Japanese writes otherwise or not at all
# (们 of 我们, 这, 吗, 说 for 説, 对 for 対, 时 for 時…).
_SIMPLIFIED_ONLY = re.compile("[们这吗呢么没还说对给让请过时个样]")


def _scripts_of(text: str) -> dict[str, int]:
    return {name: len(p.findall(text)) for name, p in _SCRIPTS.items() if p.search(text)}


def _allowed_words(sources: list[str]) -> set[str]:
    """Words a reply may keep in the entry's language: names (capitalised, or in another
    script than the entry's prose) and quoted labels ("«Envolver para regalo»")."""
    allowed: set[str] = set()
    for source in sources:
        for label in _QUOTED.findall(source):
            allowed.add(label.strip().casefold())
            allowed.update(w.casefold() for w in _LATIN_WORD.findall(label))
        for sentence in split_sentences(source):
            words = _LATIN_WORD.findall(sentence)
            allowed.update(
                w.casefold()
                for w in words[1:]
                if w[0].isupper() or any(ch.isupper() for ch in w[1:])
            )
            scripts = _scripts_of(sentence)
            if sum(scripts.values()) > 2 * scripts.get("latin", 0):
                # A sentence in another script: every Latin word in it is a name ("Klarna").
                allowed.update(w.casefold() for w in words)
    return allowed


# Three words in a row of an entry in another language, copied into the reply: left
# untranslated. One or two may be a name or a word both languages share ("Service", "total").
_COPIED_WORDS = 3


@lru_cache(maxsize=64)
def _foreign_phrases(sources: tuple[str, ...], language: str) -> set[tuple[str, ...]]:
    """Each run of ``_COPIED_WORDS`` words of the sources surely in another language."""
    phrases: set[tuple[str, ...]] = set()
    for source in sources:
        found = detect_language(source, language)
        if found.language == language or found.confidence < 0.6:
            continue
        for sentence in split_sentences(source):
            words = [w.casefold() for w in _LATIN_WORD.findall(sentence)]
            phrases.update(
                tuple(words[i : i + _COPIED_WORDS]) for i in range(len(words) - _COPIED_WORDS + 1)
            )
    return phrases


def _copied_phrase(words: list[str], foreign: set[tuple[str, ...]], allowed: set[str]) -> str:
    """The first run of the reply's words that a source in another language has, unless one
    of them is a name or label from the entry ("American Express", "Apple Pay")."""
    for i in range(len(words) - _COPIED_WORDS + 1):
        run = tuple(words[i : i + _COPIED_WORDS])
        if run in foreign and not any(w in allowed for w in run):
            return " ".join(run)
    return ""


def language_problems(reply: str, language: str, sources: list[str] | None = None) -> Verdict:
    language = base_language(language)
    allowed = _allowed_words(sources or [])
    verdict = Verdict()
    text = _EMAIL.sub(" ", _URL.sub(" ", _MARK.sub(" ", reply)))
    expected = _EXPECTED_SCRIPTS.get(language, {"latin"})
    foreign = _foreign_phrases(tuple(sources or ()), language) if "latin" in expected else set()
    for sentence in split_sentences(text):
        kept = sentence
        for label in _QUOTED.findall(sentence):
            if label.strip().casefold() in allowed:
                verdict.allowed.append(f"quoted label from the entry: {label.strip()}")
                kept = kept.replace(label, " ")
        foreign_latin = []
        for word in _LATIN_WORD.findall(kept):
            if "latin" in expected:
                continue
            if word.casefold() in allowed or len(word) == 1:
                verdict.allowed.append(f"name from the entry: {word}")
                kept = kept.replace(word, " ", 1)
            else:
                foreign_latin.append(word)
        if foreign_latin:
            verdict.problems.append(
                Problem(
                    "language",
                    f"Latin-script words in a {language} reply: {' '.join(foreign_latin)}",
                )
            )
        scripts = _scripts_of(kept)
        others = {s: n for s, n in scripts.items() if s not in expected and s != "latin"}
        if language == "ja" and scripts.get("han", 0) >= 12 and not scripts.get("kana"):
            others["han (Chinese, no kana)"] = scripts["han"]
        if language == "ja" and (chinese := _SIMPLIFIED_ONLY.findall(kept)):
            # "我们はVisa…を受付ます": Chinese words inside Japanese, which kana do not reveal.
            others["Chinese characters Japanese does not use: " + "".join(chinese)] = len(chinese)
        if others:
            verdict.problems.append(
                Problem(
                    "language",
                    f"a sentence in another script ({', '.join(others)}): {sentence[:60]!r}",
                )
            )
            continue
        if "latin" not in expected:
            continue
        words = [w.casefold() for w in _LATIN_WORD.findall(kept)]
        opener = words[0] if words else ""
        if (
            opener in _FOREIGN_OPENERS
            and opener not in YES_WORDS.get(language, [])
            and opener not in NO_WORDS.get(language, [])
            and opener.casefold() not in allowed
            and opener not in _OWN_WORDS.get(language, set())
        ):
            verdict.problems.append(
                Problem(
                    "language",
                    f"opens with {_FOREIGN_OPENERS[opener]} {words[0]!r}: {sentence[:60]!r}",
                )
            )
            continue
        english = [w for w in words if w in _ENGLISH_FUNCTION and w not in allowed]
        if language != "en" and english:
            verdict.problems.append(Problem("language", f"English words in: {sentence[:60]!r}"))
            continue
        if copied := _copied_phrase(words, foreign, allowed):
            # "Cash on delivery ve çekimler için kabul edilmez": no function word, no name.
            verdict.problems.append(
                Problem("language", f"words left in the entry's language: {copied!r}")
            )
            continue
        letters = sum(ch.isalpha() for ch in kept)
        if letters >= 12:
            found = detect_language(kept, language)
            if (
                found.language != language
                and found.confidence >= 0.6
                and not _close(found.language, language, kept)
            ):
                verdict.problems.append(
                    Problem("language", f"a sentence in {found.language}: {sentence[:60]!r}")
                )
    verdict.allowed = sorted(set(verdict.allowed))
    return verdict


def _close(found: str, expected: str, sentence: str) -> bool:
    # Short Latin sentences full of names confuse detectors; only a sure, longer one counts.
    return (
        sum(ch.isalpha() for ch in sentence) < 30
        and detect_language(sentence, expected).confidence < 0.7
    )


# --- claims --------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _names(language: str) -> dict[str, str]:
    """Country and weekday names in one language (casefolded → canonical key)."""
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return {}
    names = {}
    cjk = base_language(language) in ("zh", "ja", "ko")
    territories = list(locale.territories.items())
    if base_language(language) == "zh":  # customers in Taiwan and Hong Kong write 美國
        territories += Locale.parse("zh_Hant").territories.items()
    for code, name in territories:
        if (
            code.isalpha()
            and len(code) == 2
            and len(name) >= (2 if cjk else 3)
            and name.casefold() not in _NOT_NAMES
            and name.casefold() not in _CASED_NAMES
        ):
            names[name.casefold()] = f"country:{code}"
    for width in ("wide", "abbreviated") if cjk or base_language(language) == "ar" else ("wide",):
        for number, name in locale.days["format"][width].items():
            if len(name) >= 2:
                names[name.casefold()] = f"day:{number}"
    if base_language(language) == "zh":
        for number, name in enumerate("一二三四五六日"):
            names[f"周{name}"] = f"day:{number}"
    return names


# Country names that are ordinary words in lower case ("china" cups, Turkish "sudan": "from
# water"): the country only when written with its capital, "Do you ship to China?".
_CASED_NAMES = {"sudan", "china", "mali", "niger", "oman", "peru"}
# Names that are people's, brands' or states' names as often as countries ("Air Jordan").
_NOT_NAMES = {
    "guinea",  # "Guinea pig food"
    "panama",  # "Panama hat"
    "jersey",
    "chad",
    "jordan",
    "georgia",
    "수단",  # Korean "means": 결제 수단 (payment method), not Sudan
    "오만",  # Korean "fifty thousand" (오만 원), "arrogance"
    "피지",  # Korean "sebum" (a skincare shop's word), before Fiji
}
# Brand names that hold a country's name: 美国运通 is American Express, not the USA.
_NOT_COUNTRY_PHRASES = re.compile("美国运通|美國運通")


# A letter of a script that writes spaces between words (not CJK, where "EU全加盟国" is one).
_NON_CJK_LETTER = r"[^\W\d_\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]"
# Abbreviations written as names ("all EU countries", "la UE"); Babel only has the long names.
_ABBREVIATIONS = re.compile(
    rf"(?<!{_NON_CJK_LETTER})(EU|UE|UK|USA|(?<![A-Z] )US(?! [A-Z])|U\.S\.(?:A\.)?|EUA|UAE|EAU)"
    rf"(?!{_NON_CJK_LETTER}|\.[A-Z])"  # "US", not "CONTACT US" nor "SOĞUK"; "EU全加盟国"
)
_ABBREVIATED = {"EU": "EU", "UE": "EU", "UK": "GB", "USA": "US", "EUA": "US", "UAE": "AE"}
_ABBREVIATED |= {"EAU": "AE", "US": "US", "U.S.": "US", "U.S.A.": "US"}


# The names customers write where Babel has only the formal one ("한국" for 대한민국,
# "アメリカ" for アメリカ合衆国, "Holland"): case-sensitive where the word is also an
# ordinary one in lower case (Vietnamese "mỹ phẩm" is cosmetics, not the USA).
_COMMON_COUNTRY_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "US": "(?<!Latin )(?<!South )(?<!Central )America",
        "TR": "Turkey",
        "KR": "Korea",
        "NL": "Holland",
        "GB": "England|Britain|Great Britain",
        "HK": "Hong Kong",
        "CZ": "Czech Republic",
        "AE": "Emirates",
        "SA": "Saudi",
    },
    "de": {
        "US": "Amerika",
        "KR": "Korea",
        "NL": "Holland",
        "GB": "England|Großbritannien|Grossbritannien|Britannien|Vereinigte[ns]? Königreich",
        "HK": "Hongkong|Hong Kong",
        "CZ": "Tschechische Republik",
        "AE": "Emirate",
    },
    "es": {
        "US": r"EE\. ?UU\.?|EEUU",
        "KR": "Corea",
        "NL": "Holanda",
        "GB": "Inglaterra|Gran Bretaña",
        "HK": "Hong Kong",
        "CZ": "República Checa",
        "AE": "Emiratos",
    },
    "fr": {
        "KR": "Corée",
        "NL": "Hollande",
        "GB": "Angleterre|Grande-Bretagne",
        "HK": "Hong Kong",
        "CZ": "République tchèque",
        "AE": "Émirats",
    },
    "it": {
        "KR": "Corea",
        "NL": "Olanda",
        "GB": "Inghilterra|Gran Bretagna",
        "HK": "Hong Kong",
        "CZ": "Repubblica Ceca",
        "AE": "Emirati",
    },
    "pt": {
        "KR": "Coreia|Coréia",
        "NL": "Holanda",
        "GB": "Inglaterra|Grã-Bretanha",
        "HK": "Hong Kong",
        "CZ": "República Tcheca|República Checa",
        "AE": "Emirados",
    },
    "ja": {"US": "アメリカ(?!ン)|米国", "GB": "英国", "HK": "香港", "AE": "ドバイ|UAE"},
    "ko": {
        "KR": "한국(?!어)|남한",
        "HK": "홍콩",
        "TR": "터키",
        "AE": "두바이",
        "AU": "호주(?!머니)",
    },
    "zh": {"HK": "香港", "AE": "阿联酋|阿聯酋|迪拜", "KR": "南韩|南韓"},
    "ar": {
        "AE": "الإمارات|الامارات|دبي",
        "KR": "كوريا",
        "US": "أمريكا|أميركا|امريكا",
        "GB": "بريطانيا|إنجلترا|انجلترا",
        "HK": "هونغ كونغ|هونج كونج",
        "SA": "السعودية",
    },
    "vi": {
        "US": "Mỹ(?! phẩm| thuật| vị)",
        "GB": "Anh Quốc|nước Anh",
        "HK": "Hồng Kông",
        "AE": "Dubai",
        "AU": "Úc",
    },
    "tr": {
        "EU": "AB",
        "US": "(?<!Güney )(?<!Latin )Amerika|ABD",
        "KR": "Kore",
        "GB": "İngiltere",
        "HK": "Hong Kong",
        "CZ": "Çek Cumhuriyeti",
        "AE": "Emirlikler|Dubai",
    },
}
_LETTER_BEFORE, _LETTER_AFTER = r"(?<![^\W\d_])", r"(?![^\W\d_])"
# Arabic writes "and", "to", "in" onto the word: "وبالإمارات".
_ARABIC_CLITICS = r"(?<![^\W\d_])[وفبكل]{0,2}"


@lru_cache(maxsize=32)
def _common_names(language: str) -> list[tuple[re.Pattern[str], str]]:
    language = base_language(language)
    cjk = language in ("zh", "ja", "ko")
    before = "" if cjk else _ARABIC_CLITICS if language == "ar" else _LETTER_BEFORE
    after = "" if cjk else _LETTER_AFTER
    return [
        (re.compile(f"{before}(?:{names}){after}"), f"country:{code}")
        for code, names in _COMMON_COUNTRY_NAMES.get(language, {}).items()
    ]


_HANGUL_RANGE = "\uac00-\ud7a3"
_KATAKANA_RANGE = "\u30a0-\u30ff"
# What Korean writes right after a place name: its particles ("인도로", "일본에서도").
_KO_PARTICLES = "(?:으로|로|에서|에|은|는|이|가|의|도|부터|까지|행|산|과|와|만|을|를)*"


def _cjk_name_in(name: str, text: str, language: str) -> bool:
    """A country name as a word, not part of another: Korean "가나요" (does it go?) and
    "인도하다" (to hand over) are not Ghana and India, nor Japanese "タイプ" Thailand, nor
    "日本語" (the Japanese language) Japan. Chinese writes no spaces and few such words."""
    escaped = re.escape(name)
    if language == "ko" and re.fullmatch(f"[{_HANGUL_RANGE}]+", name):
        pattern = f"(?<![{_HANGUL_RANGE}]){escaped}{_KO_PARTICLES}(?![{_HANGUL_RANGE}])"
    elif language == "ja" and re.fullmatch(f"[{_KATAKANA_RANGE}]+", name):
        pattern = f"(?<![{_KATAKANA_RANGE}]){escaped}(?![{_KATAKANA_RANGE}])"
    else:
        pattern = f"{escaped}(?![語语])"
    return re.search(pattern, text) is not None


def _mentioned(text: str, languages: set[str]) -> set[str]:
    normalized = _NOT_COUNTRY_PHRASES.sub(" ", unicodedata.normalize("NFKC", text))
    folded = normalized.casefold()
    found = {f"country:{_ABBREVIATED[m]}" for m in _ABBREVIATIONS.findall(normalized)}
    for language in languages:
        language = base_language(language)
        cjk = language in ("zh", "ja", "ko")
        before = _ARABIC_CLITICS if language == "ar" else _LETTER_BEFORE
        for name, key in _names(language).items():
            if name not in folded:
                continue
            if cjk:
                if _cjk_name_in(name, folded, language):
                    found.add(key)
            elif re.search(rf"{before}{re.escape(name)}{_LETTER_AFTER}", folded):
                found.add(key)
        found.update(key for pattern, key in _common_names(language) if pattern.search(normalized))
        if not cjk:
            found.update(
                key for pattern, key in _cased_names(language) if pattern.search(normalized)
            )
    return found


@lru_cache(maxsize=32)
def _cased_names(language: str) -> list[tuple[re.Pattern[str], str]]:
    """Babel's names among ``_CASED_NAMES``, matched with their capital only."""
    try:
        territories = Locale.parse(base_language(language)).territories.items()
    except (UnknownLocaleError, ValueError):
        return []
    before = _ARABIC_CLITICS if base_language(language) == "ar" else _LETTER_BEFORE
    # Inside a sentence only: a capital that starts one is no sign ("Mali destek", Turkish
    # "financial support"; "Sudan uzak tutun", "keep away from water").
    inside = r"(?<=[^\s.!?:;]\s)"
    return [
        (re.compile(f"{inside}{before}{re.escape(name)}{_LETTER_AFTER}"), f"country:{code}")
        for code, name in territories
        if name.casefold() in _CASED_NAMES and name[:1].isupper()
    ]


# "All EU countries" names each of them: a yes to "Liefern Sie in die Slowakei?" is the entry's.
_EU_MEMBERS = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)


def with_members(found: set[str]) -> set[str]:
    return found | {f"country:{c}" for c in _EU_MEMBERS} if "country:EU" in found else found


def mentioned(text: str, languages: set[str]) -> set[str]:
    """The countries and weekdays ``text`` names, as keys ("country:CH", "day:0")."""
    return _mentioned(text, languages)


def name_of(key: str, language: str) -> str:
    """A key's name in ``language`` (Babel's), or "" where Babel has none."""
    try:
        locale = Locale.parse(base_language(language))
    except (UnknownLocaleError, ValueError):
        return ""
    kind, _, code = key.partition(":")
    if kind == "country":
        return str(locale.territories.get(code, ""))
    return str(locale.days["format"]["wide"].get(int(code), "")) if code.isdigit() else ""


def shown_names(keys: set[str]) -> str:
    """The keys as a model and a person read them: "Türkiye, Saturday"."""
    return ", ".join(name_of(key, "en") or key.partition(":")[2] for key in sorted(keys))


def dropped_names(translation: str, source: str, target: str, source_language: str) -> set[str]:
    """Countries of ``source`` that ``translation`` no longer names: a list of countries
    that lost the United States, or a refusal that kept none of them. Not weekdays: "Monday
    to Friday" is "Mo.–Fr." or 平日 in a faithful translation. "EU" keeps only the members
    the source does not name itself ("the EU, and Austria for free" must keep Austria)."""
    named = {k for k in _mentioned(source, {source_language}) if k.startswith("country:")}
    kept = _mentioned(translation, {target, source_language})
    if "country:EU" in kept:
        kept |= with_members({"country:EU"}) - named
    return named - kept


# Words that restrict or deny ("only", "not"): an entry holding one may be summed up by "no".
NEGATIONS = {
    "en": r"\b(?:not|no|cannot|can't|don't|doesn't|only|never)\b",
    "es": r"\b(?:no|solo|sólo|solamente|únicamente|nunca)\b",
    "fr": r"\b(?:ne|n'|pas|non|uniquement|seulement|jamais)\b|\bn'",
    "de": r"\b(?:nicht|kein\w*|nur|nie)\b",
    "it": r"\b(?:non|solo|soltanto|mai)\b",
    "pt": r"\b(?:não|só|somente|apenas|nunca)\b",
    "zh": r"不|没|无|只|仅",
    "ja": r"ない|ません|できず|のみ|(?<!いた)だけ",  # not the "だけ" of "いただけます"
    "ko": r"않|없|안 |못|만 |뿐",
    "ar": r"(?<!\w)(?:لا|لن|ليس|ليست|غير|فقط|إلا)(?!\w)",
    "vi": r"\b(?:không|chỉ|chưa)\b",
    "tr": r"\b(?:değil|yok|sadece|yalnızca|hiçbir)\b|\w(?:mıyor|miyor|muyor|müyor|maz|mez)\b",
}


def opening_polarity(reply: str, language: str) -> str | None:
    """'yes' or 'no' when the reply opens with such a word, else None."""
    start = unicodedata.normalize("NFKC", _MARK.sub("", reply)).strip().casefold()
    start = re.sub(r"^[\W_]+", "", start)
    best = None
    for polarity, table in (("no", NO_WORDS), ("yes", YES_WORDS)):
        for word in table.get(base_language(language), []):
            if start.startswith(word) and (
                _AFTER_OPENER.match(start, len(word))
                or (
                    word in _SPACED_OPENERS
                    and start[len(word) : len(word) + 1].isspace()
                    and not (word in ("non", "no") and base_language(language) == "it")
                )
            ):
                if best is None or len(word) > best[1]:
                    best = (polarity, len(word))
    return best[0] if best else None


def _asked_names(question: str) -> set[str]:
    """The names a question asks about ("PayPal", "Visa"): Latin-script words written with a
    capital, or any Latin word inside a question in another script; never the opening word."""
    words = _LATIN_WORD.findall(question)
    foreign = bool(re.search(r"[^\W\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff]", question))
    return {
        w.casefold()
        for i, w in enumerate(words)
        if (len(w) >= 3 or (len(w) == 2 and w.isupper()))  # "UK", not "I"
        and (foreign or (i > 0 and any(c.isupper() for c in w)))
    }


def _states_what_was_asked(question: str, entry_answer: str, negation: str | None) -> bool:
    """A "yes" the entry gives without saying it: "Can I pay with PayPal?" over "We accept
    Visa, PayPal…". Some name asked about stands in a sentence of the entry that neither
    denies nor restricts."""
    names = _asked_names(question)
    for sentence in split_sentences(entry_answer):
        lowered = sentence.casefold()
        if negation and re.search(negation, lowered):
            continue
        found = {w.casefold() for w in _LATIN_WORD.findall(sentence)}
        if names & found:
            return True
    return False


def claim_problems(
    reply: str,
    language: str,
    sources: list[str],
    question: str = "",
    source_languages: tuple[str, ...] = (),
    *,
    opening_rule: bool = True,
) -> list[Problem]:
    """``opening_rule``: a reply may open with yes/no only where the entry's answer does (the
    engine's rule; ``eval answers`` checks the expected polarity instead)."""
    problems = []
    languages = {base_language(language), *map(base_language, source_languages)}
    in_sources = with_members(_mentioned(" ".join(sources), languages))
    said = _mentioned(reply, languages) - in_sources
    if said:
        problems.append(
            Problem("claim", "names what the entry does not have: " + shown_names(said))
        )
    if _LATIN.search(question) and base_language(language) != "de":
        # A name the customer asked about, repeated in the reply, that the entry never names.
        known = {w.casefold()[:5] for s in sources for w in _LATIN_WORD.findall(s)}
        asked = {w.casefold()[:5] for w in _LATIN_WORD.findall(question)}
        for sentence in split_sentences(reply):
            for word in _LATIN_WORD.findall(sentence)[1:]:
                stem = word.casefold()[:5]
                if word[0].isupper() and len(word) >= 3 and stem in asked and stem not in known:
                    problems.append(Problem("claim", f"names {word!r}, which the entry does not"))
    polarity = opening_polarity(reply, language)
    if opening_rule and polarity == "yes" and sources and base_language(language) != "de":
        # "Livrez-vous au Canada ?" answered "Oui" from the Canary Islands entry: a "yes" about
        # a name the entry never writes is the entry's answer to another question.
        written = {w.casefold() for s in sources for w in _LATIN_WORD.findall(s)}
        unnamed = _asked_names(question) - written
        if unnamed and unnamed == _asked_names(question):
            problems.append(
                Problem(
                    "claim",
                    "says 'yes' about what the entry does not name: " + ", ".join(sorted(unnamed)),
                )
            )
    if opening_rule and polarity == "yes" and sources and question:
        # "Do you ship to Brazil?" answered "Yes" from an entry that lists other countries:
        # the entry may include it ("all EU countries"), but the yes is not the entry's.
        places = _mentioned(question, languages) - in_sources
        if places:
            problems.append(
                Problem(
                    "claim",
                    "says 'yes' about what the entry does not name: " + shown_names(places),
                )
            )
    if opening_rule and polarity and sources:
        entry_answer = sources[0].split("\n", 1)[-1].strip()
        # The first source is read in its own language (the translation: the reply's).
        entry_language = base_language(source_languages[0]) if source_languages else language
        entry_polarity = opening_polarity(entry_answer, entry_language)
        negation = NEGATIONS.get(entry_language)
        denies = bool(negation and re.search(negation, entry_answer.casefold()))
        if entry_polarity != polarity and not (
            (polarity == "no" and entry_polarity is None and denies)
            or (
                polarity == "yes"
                and entry_polarity is None
                and _states_what_was_asked(question, entry_answer, negation)
            )
        ):
            problems.append(Problem("claim", f"opens with a '{polarity}' the entry does not give"))
    return problems


def check(
    reply: str,
    *,
    language: str,
    sources: list[str],
    question: str = "",
    source_languages: tuple[str, ...] = (),
    opening_rule: bool = True,
    language_sources: list[str] | None = None,
) -> Verdict:
    """Every check on a reply to ``question`` built from ``sources`` (entry texts, the one the
    reply is written from first). ``language_sources``: the texts whose names and labels the
    reply may keep in another language, when not all of ``sources`` may vouch for them."""
    verdict = language_problems(
        reply, language, sources if language_sources is None else language_sources
    )
    verdict.problems[:0] = (
        clean_problems(reply, question, sources)
        + figure_problems(reply, sources, question)
        + claim_problems(
            reply, language, sources, question, source_languages, opening_rule=opening_rule
        )
    )
    return verdict
