"""Every translation of a message keeps the English ``{placeholders}``: a missing or renamed one
would raise KeyError (or drop a value) when the bot formats the text in that language."""

from string import Formatter

import pytest

from bot.messages import SUPPORTED_LANGUAGES, message, message_keys


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", [code for code in SUPPORTED_LANGUAGES if code != "en"])
def test_every_translation_has_the_english_placeholders(language):
    for key in message_keys():
        english = placeholders(message(key, "en"))
        assert placeholders(message(key, language)) == english, (language, key)


def test_kb_messages_format_in_every_language():
    values = dict(
        entries=1,
        sources=2,
        languages="en",
        source="faq.md",
        added=1,
        updated=2,
        deleted=3,
        unchanged=4,
        error="timeout",
        count=5,
        query="returns",
        name="faq.pdf",
        limit=20,
        conversation="web:abc",
        language="Japanese",
        period="7d",
    )
    for language in SUPPORTED_LANGUAGES:
        assert "1" in message("kb_status", language).format(entries=1, sources=2, languages="en")
        for key in message_keys():
            text = message(key, language).format(**values)
            assert "{" not in text and "}" not in text, (language, key, text)
