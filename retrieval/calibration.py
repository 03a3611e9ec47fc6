"""Calibrated relevance: the probability that an entry really answers the query.

A logistic model over absolute similarities: dense e5 (the best of the entry text and its
questions) and multilingual USE where it was used. The coefficients were fitted on
covid_faq_en's 488 labelled question pairs (``linguadesk eval retrieval --benchmark
covid_faq_en --json F`` writes the features; 5-fold CV: precision 0.93, recall 0.92 at
0.5). Those pairs are English; a query in another language than the entry scores lower
for the same meaning, so its similarities are first raised by the gap measured on
xquad_r's parallel questions (median gold similarity X->en vs. en->en, per language).
Within one other language (a question matching a translated view in its own language) the
gap is that of X->X against en->en, measured the same way. Each view language of a channel
is corrected on its own and the best counts, so every language pair is scored as English
pairs are. The engine's ``min_confidence`` applies to this probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from common.language import base_language

# Median gold similarity of en->en minus X->en on xquad_r (1,190 questions per language).
CROSS_LINGUAL_GAP_E5 = {
    "zh": 0.073,
    "ar": 0.086,
    "th": 0.075,
    "es": 0.048,
    "de": 0.052,
    "ru": 0.073,
    "tr": 0.069,
    "vi": 0.079,
    "hi": 0.056,
    "el": 0.073,
}
CROSS_LINGUAL_GAP_USE = {
    "zh": 0.098,
    "ar": 0.121,
    "th": 0.056,
    "es": 0.054,
    "de": 0.056,
    "ru": 0.087,
    "tr": 0.104,
}
# The same within one language: en->en minus X->X (question and gold sentence both in X;
# `benchmarks/language_gaps.py --limit 300`, which also reproduces the X->en tables above
# within 0.002). e5 is as sure of itself in every language as in English; USE is not in
# Arabic, Russian, Thai and Turkish, which matters once translated views make most matches
# same-language.
SAME_LANGUAGE_GAP_E5 = {
    "ar": 0.018,
    "de": -0.002,
    "el": 0.008,
    "es": -0.008,
    "hi": 0.008,
    "ru": 0.003,
    "th": 0.0,
    "tr": -0.001,
    "vi": -0.009,
    "zh": -0.032,
}
SAME_LANGUAGE_GAP_USE = {
    "ar": 0.078,
    "de": -0.013,
    "es": 0.001,
    "ru": 0.059,
    "th": 0.057,
    "tr": 0.081,
    "zh": -0.015,
}
MIN_LANGUAGE_CONFIDENCE = 0.7
DEFAULT_GAP_E5 = 0.07
DEFAULT_GAP_USE = 0.08


@dataclass(frozen=True)
class Relevance:
    with_use: tuple[float, float, float] = (-36.20, 33.654, 13.544)  # bias, e5, use
    dense_only: tuple[float, float] = (-62.23, 70.604)  # bias, e5
    gap_e5: dict[str, float] = field(default_factory=lambda: dict(CROSS_LINGUAL_GAP_E5))
    gap_use: dict[str, float] = field(default_factory=lambda: dict(CROSS_LINGUAL_GAP_USE))
    same_e5: dict[str, float] = field(default_factory=lambda: dict(SAME_LANGUAGE_GAP_E5))
    same_use: dict[str, float] = field(default_factory=lambda: dict(SAME_LANGUAGE_GAP_USE))

    @staticmethod
    def features(channels: dict[str, float]) -> tuple[float, float | None]:
        dense = max(channels.get("entry", -1.0), channels.get("question", -1.0))
        return dense, channels.get("use")

    def __call__(
        self,
        channels: dict[str, float],
        query_language: str = "",
        entry_language: str = "",
        language_confidence: float = 1.0,
        views: dict[str, dict[str, float]] | None = None,
    ) -> float:
        """``views``: per channel, the best similarity of each view language ("" for the
        entry's own views, else a translation's language). Each is corrected for its own
        language pair and the best counts, so a question that matched a translated view in
        its own language is a same-language match, and adding a translation never lowers an
        entry's relevance."""
        query_language = base_language(query_language) if query_language else ""
        # Only a confident detection counts: a short English query guessed to be Dutch must
        # not get the cross-lingual bonus.
        confident = language_confidence >= MIN_LANGUAGE_CONFIDENCE

        def gap(
            cross: dict[str, float], same: dict[str, float], default: float, side: str
        ) -> float:
            side = base_language(side) if side else ""
            if not (confident and query_language and side):
                return 0.0
            if query_language == side:
                return same.get(side, 0.0)
            # The table is X->en; en->X uses the same gap, and X->Y that of the entry side.
            return cross.get(query_language if side == "en" else side, default)

        def corrected(channel: str, use: bool) -> float | None:
            tables = (
                (self.gap_use, self.same_use, DEFAULT_GAP_USE)
                if use
                else (self.gap_e5, self.same_e5, DEFAULT_GAP_E5)
            )
            found = (views or {}).get(channel)
            if found:
                # Only the entry's own views and those in the language the query was taken for
                # (even unsure): the best of five other translations of one question is a max
                # over noise, and lifted English non-matches (no-match precision 0.96 -> 0.74).
                found = {
                    language: value
                    for language, value in found.items()
                    if not language or base_language(language) == query_language
                }
            if found:
                return max(
                    value + gap(*tables, language or entry_language)
                    for language, value in found.items()
                )
            if channel not in channels:
                return None
            return channels[channel] + gap(*tables, entry_language)

        e5 = [v for v in (corrected("entry", False), corrected("question", False)) if v is not None]
        dense = max(e5, default=-1.0)
        use = corrected("use", True)
        if use is not None:
            bias, w_dense, w_use = self.with_use
            z = bias + w_dense * dense + w_use * use
        else:
            bias, w_dense = self.dense_only
            z = bias + w_dense * dense
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
