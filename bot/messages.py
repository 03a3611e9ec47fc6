"""Fixed customer-facing strings, from the gettext catalogs in ``bot/locales``.

Each catalog maps a message key (``no_answer``…) to its text in one language; ``en`` holds the
English. Translators edit the ``.po`` files (Poedit, Weblate…); they are compiled in memory with
Babel when first used, so there is no build step. English is used only for languages that have
no catalog, never for a missing string in a supported one (a test checks every catalog is whole).
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from common.language import SUPPORTED_LANGUAGES, base_language

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "linguadesk"


def catalog_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def message_keys() -> list[str]:
    with catalog_path("en").open("rb") as po:
        # a plural entry's id is a tuple, and no key of message(): the catalogs have none
        return [m.id for m in read_po(po) if isinstance(m.id, str) and m.id]


def catalog_language(language: str) -> str:
    """The catalog used for a customer language: its own, else English."""
    code = base_language(language or "en")
    return code if code in SUPPORTED_LANGUAGES else "en"


def message(key: str, language: str) -> str:
    text = translations(catalog_language(language)).gettext(key)
    if text == key:  # not in that catalog: fall back to English rather than show a key
        text = translations("en").gettext(key)
    if text == key:
        raise KeyError(f"no message {key!r} in the catalogs")
    return text
