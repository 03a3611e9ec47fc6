"""Whether a translation says what its source says, judged by cross-lingual sentence vectors
(the multilingual USE encoder): the one fault no figure, name or language check sees is a
small model's refusal or reply ("Üzgünüm, bunu çeviremem") in place of the translation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from common.language import base_language, split_sentences
from retrieval.use_encoder import USE_LANGUAGES

from .answer_checks import Problem

log = logging.getLogger(__name__)

Encode = Callable[[list[str]], Any]

# Below this, a "translation" says something else. Measured with the multilingual USE encoder:
# translations 0.55-0.93, refusals and replies 0.04-0.33 (docs/conversations.md).
MEANING_FLOOR = 0.4
# Shorter texts ("OK", "了解") embed too noisily to judge.
MIN_CHARS = 12


def meaning_problems(
    encode: Encode | None,
    translation: str,
    text: str,
    source: str,
    target: str,
    what: str,
    instead_of: str = "a translation",
) -> list[Problem]:
    """A problem when ``translation`` (or an answer) does not say what ``text`` (``what``:
    "the message", "the entry") says. No judgement without an encoder, for short texts, or for a language
    the encoder was not trained on (Vietnamese translations score 0.1-0.3 there)."""
    return _unrelated(encode, translation, [(text, source)], target, what, instead_of)


def answer_problems(
    encode: Encode | None, reply: str, sources: list[tuple[str, str]], language: str
) -> list[Problem]:
    """A problem when ``reply`` (in ``language``) says nothing of the entry: not of its text
    nor of any one sentence of it, in any of ``sources`` (text, language): the entry and its
    translation. A first sentence that answers from one of them ("Sí, enviamos a Suiza.") is
    about the entry too. The engine's drafts and ``eval answers`` are judged by this one rule.
    Where any part cannot be judged (too short, a language the encoder lacks), none is."""
    parts = [
        (part, source_language)
        for text, source_language in sources
        for part in [text, *split_sentences(text)]
    ]
    return _unrelated(encode, reply, parts, language, "the entry", "an answer")


def _unrelated(
    encode: Encode | None,
    text: str,
    parts: list[tuple[str, str]],
    language: str,
    what: str,
    instead_of: str,
) -> list[Problem]:
    """A problem when ``text`` (in ``language``) is close to none of ``parts`` (text,
    language); none when any part cannot be judged, or the encoder fails."""
    if encode is None or not parts or len(text.strip()) < MIN_CHARS:
        return []
    for part, part_language in parts:
        if (
            len(part.strip()) < MIN_CHARS
            or not {base_language(part_language), base_language(language)} <= USE_LANGUAGES
        ):
            return []
    try:
        vectors = np.asarray(encode([text, *(part for part, _ in parts)]), dtype=float)
    except Exception as exc:  # the encoder failed: judge by the other checks
        log.warning("meaning check failed: %s", type(exc).__name__)
        return []
    norms = np.linalg.norm(vectors, axis=1)
    similarities = vectors[1:] @ vectors[0] / np.maximum(norms[1:] * norms[0], 1e-9)
    if float(similarities.max()) >= MEANING_FLOOR:
        return []
    return [
        Problem(
            "meaning",
            f"it does not say what {what} says (a reply or a refusal instead of {instead_of})",
        )
    ]
