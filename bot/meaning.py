"""Whether a translation says what its source says, judged by cross-lingual sentence vectors
(the multilingual USE encoder): the one fault no figure, name or language check sees is a
small model's refusal or reply ("Üzgünüm, bunu çeviremem") in place of the translation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from common.language import base_language
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
    languages = {base_language(source), base_language(target)}
    if (
        encode is None
        or min(len(text.strip()), len(translation.strip())) < MIN_CHARS
        or not languages <= USE_LANGUAGES
    ):
        return []
    try:
        vectors = np.asarray(encode([text, translation]), dtype=float)
    except Exception as exc:  # the encoder failed: judge by the other checks
        log.warning("translation meaning check failed: %s", type(exc).__name__)
        return []
    norms = np.linalg.norm(vectors, axis=1)
    similarity = float(vectors[0] @ vectors[1] / max(float(norms[0] * norms[1]), 1e-9))
    if similarity >= MEANING_FLOOR:
        return []
    return [
        Problem(
            "meaning",
            f"it does not say what {what} says (a reply or a refusal instead of {instead_of})",
        )
    ]
