"""BM25 over FAQ entries (bm25s), with a tokenizer that works without spaces.

Chinese, Japanese and Thai are written without spaces between words, so runs of those
scripts become overlapping character bigrams (a one-character run stays itself). Single
characters are not indexed: in a Chinese index they match nearly every entry. Arabic gets the usual light normalization (no diacritics, one
alef, one yeh). Latin-script words are folded and English suffixes stemmed so that
"refunds" finds "refund".
"""

from __future__ import annotations

import logging
import re
import unicodedata

import numpy as np

_NO_SPACE_SCRIPTS = (
    "\u3040-\u30ff\u31f0-\u31ff"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # han
    "\u0e00-\u0e7f"  # thai
    "\u0e80-\u0eff"  # lao
    "\u1780-\u17ff"  # khmer
    "\u1000-\u109f"  # myanmar
)
_TOKEN = re.compile(rf"[{_NO_SPACE_SCRIPTS}]+|[^\W_]+", re.UNICODE)
_NO_SPACE = re.compile(rf"[{_NO_SPACE_SCRIPTS}]")
_ARABIC_DIACRITICS = re.compile(r"[\u064b-\u0652\u0670\u0640]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})

_stemmer = None


def _stem(word: str) -> str:
    global _stemmer
    if _stemmer is None:
        import Stemmer

        _stemmer = Stemmer.Stemmer("english")
    return _stemmer.stemWord(word)


def tokenize(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FOLD)
    tokens: list[str] = []
    for run in _TOKEN.findall(text):
        if _NO_SPACE.match(run):
            tokens.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        elif run.isascii() and run.isalpha():
            tokens.append(_stem(run))
        else:
            tokens.append(run)
    return tokens


class LexicalIndex:
    """An in-memory BM25 index; cheap to rebuild (10k entries in about a second)."""

    def __init__(self, ids: list[str], texts: list[str]) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
        self.ids = ids
        self._retriever = bm25s.BM25()
        corpus = [tokenize(t) for t in texts]
        self._vocab = {tok for doc in corpus for tok in doc}
        if ids:
            self._retriever.index(corpus, show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int) -> tuple[dict[str, float], float]:
        """Top-k ``{id: bm25}`` and the share of query tokens the index knows (0..1)."""
        tokens = tokenize(query)
        if not tokens or not self.ids:
            return {}, 0.0
        known = [t for t in tokens if t in self._vocab]
        coverage = len(known) / len(tokens)
        if not known:
            return {}, 0.0
        scores = self._retriever.get_scores(known)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        return {self.ids[i]: float(scores[i]) for i in top if scores[i] > 0}, coverage
