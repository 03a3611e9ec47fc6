"""Calibrated relevance: the probability that an entry really answers the query.

A logistic model over absolute similarities: dense e5 (the best of the entry text and its
questions) and multilingual USE where it was used. The coefficients were fitted on
covid_faq_en's 488 labelled question pairs (``linguadesk eval retrieval --benchmark
covid_faq_en --json F`` writes the features; 5-fold CV: precision 0.93, recall 0.92 at
0.5). Those pairs are English; a query in another language than the entry scores lower
for the same meaning, so its similarities are first raised by the gap measured on
xquad_r's parallel questions (median gold similarity X->en vs. en->en, per language).
The engine's ``min_confidence`` applies to this probability.
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
MIN_LANGUAGE_CONFIDENCE = 0.7
DEFAULT_GAP_E5 = 0.07
DEFAULT_GAP_USE = 0.08


@dataclass(frozen=True)
class Relevance:
    with_use: tuple[float, float, float] = (-36.20, 33.654, 13.544)  # bias, e5, use
    dense_only: tuple[float, float] = (-62.23, 70.604)  # bias, e5
    gap_e5: dict[str, float] = field(default_factory=lambda: dict(CROSS_LINGUAL_GAP_E5))
    gap_use: dict[str, float] = field(default_factory=lambda: dict(CROSS_LINGUAL_GAP_USE))

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

        def gap(table: dict[str, float], default: float, side: str) -> float:
            side = base_language(side) if side else ""
            if not (confident and query_language and side and query_language != side):
                return 0.0
            # The table is X->en; en->X uses the same gap, and X->Y that of the entry side.
            return table.get(query_language if side == "en" else side, default)

        def corrected(channel: str, table: dict[str, float], default: float) -> float | None:
            found = (views or {}).get(channel)
            if found:
                return max(
                    value + gap(table, default, language or entry_language)
                    for language, value in found.items()
                )
            if channel not in channels:
                return None
            return channels[channel] + gap(table, default, entry_language)

        e5 = [
            value
            for value in (
                corrected("entry", self.gap_e5, DEFAULT_GAP_E5),
                corrected("question", self.gap_e5, DEFAULT_GAP_E5),
            )
            if value is not None
        ]
        dense = max(e5, default=-1.0)
        use = corrected("use", self.gap_use, DEFAULT_GAP_USE)
        if use is not None:
            bias, w_dense, w_use = self.with_use
            z = bias + w_dense * dense + w_use * use
        else:
            bias, w_dense = self.dense_only
            z = bias + w_dense * dense
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
