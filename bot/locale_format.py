"""Prices, dates and numbers in the customer's locale, before an entry reaches the model.

The model copies figures as it sees them, so the engine rewrites them first: "2,90 €" in a
French entry becomes "€2.90" for an English customer and "2,90 €" stays for a French one;
"2026-12-24" becomes "24. Dezember 2026" for a German one. Amounts are parsed in the entry's
own locale, so "1,000" (English) and "1.000" (German) are both a thousand.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import NumberFormatError, format_currency, format_percent, parse_decimal

from common.language import base_language

# The locale used for a language when the channel gives no region (widget: the browser's).
DEFAULT_LOCALES = {
    "en": "en_US",
    "zh": "zh_Hans_CN",
    "es": "es_ES",
    "fr": "fr_FR",
    "de": "de_DE",
    "ja": "ja_JP",
    "pt": "pt_BR",
    "ar": "ar",
    "ko": "ko_KR",
    "it": "it_IT",
    "vi": "vi_VN",
    "tr": "tr_TR",
}

_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "US$": "USD"}
_CODES = "EUR|USD|GBP|JPY|CHF|CAD|AUD|CNY|KRW|BRL|SAR|AED"
_AMOUNT = r"\d{1,3}(?:[.,\u00a0\u202f ]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_SYMBOL = r"US\$|[€$£¥]"
_PRICE = re.compile(
    rf"(?P<pre>{_SYMBOL}|\b(?:{_CODES})\b)\s?(?P<a1>{_AMOUNT})"
    rf"|(?P<a2>{_AMOUNT})\s?(?P<post>{_SYMBOL}|\b(?:{_CODES})\b|euros?\b|Euro\b)"
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d{1,2})?)\s?%")


def customer_locale(language: str, hint: str | None = None) -> Locale:
    """The hint (e.g. the browser's 'pt-PT') when it is in the reply language, else a default."""
    for tag in (hint, DEFAULT_LOCALES.get(base_language(language)), language, "en_US"):
        if not tag or (tag is hint and base_language(tag) != base_language(language)):
            continue
        try:
            return Locale.parse(tag.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en_US")


def localize_figures(text: str, locale: Locale, source_language: str = "en") -> str:
    source = customer_locale(source_language)

    def price(m: re.Match) -> str:
        amount = m.group("a1") or m.group("a2")
        unit = (m.group("pre") or m.group("post")).strip()
        currency = _SYMBOLS.get(unit) or ("EUR" if unit.lower().startswith("euro") else unit)
        if unit == "¥" and base_language(source_language) == "zh":
            currency = "CNY"  # ¥ is the yuan in a Chinese text, the yen elsewhere
        try:
            value = parse_decimal(
                amount.replace("\u00a0", "").replace("\u202f", "").replace(" ", ""),
                locale=source,
                strict=False,
            )
        except (NumberFormatError, InvalidOperation):
            return m.group(0)
        if value == value.to_integral_value():  # "10 €" stays whole, not "10,00 €"
            pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
            return format_currency(value, currency, pattern, locale=locale, currency_digits=False)
        # Keep the source's decimals: "¥12.50" must not become "¥12" because the yen has none.
        return format_currency(value, currency, locale=locale, currency_digits=False)

    def date(m: re.Match) -> str:
        try:
            return format_date(dt.date(*map(int, m.groups())), "long", locale=locale)
        except ValueError:
            return m.group(0)

    def percent(m: re.Match) -> str:
        try:
            value = parse_decimal(m.group(1), locale=source, strict=False) / Decimal(100)
        except (NumberFormatError, InvalidOperation):
            return m.group(0)
        return format_percent(value, locale=locale, decimal_quantization=False)

    text = _PRICE.sub(price, text)
    text = _ISO_DATE.sub(date, text)
    return _PERCENT.sub(percent, text)
