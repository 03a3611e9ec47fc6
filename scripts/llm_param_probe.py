"""Do the sampling parameters the bot sends really take effect on this server?

Part of the vLLM API parity test (`make test-vllm`), and usable against any OpenAI-compatible
server (the embedded llama.cpp one: ``--penalty-name repeat_penalty``). A server that accepts
a field and silently ignores it answers 200 either way, so each check compares two answers:

- ``max_completion_tokens`` (what LangChain sends) and the legacy ``max_tokens`` cap the answer;
- a streamed answer ends with a usage chunk (``stream_options.include_usage``);
- ``seed`` makes a sampled answer repeatable;
- ``top_k`` (extra body) = 1 turns a hot sampler greedy;
- the repetition penalty (extra body, ``repetition_penalty`` for vLLM) changes a greedy answer;
- a prompt longer than the context is refused with a 4xx (not a 5xx the bot would retry).

Uses the ``openai`` client of the project's venv, the one LangChain drives.
"""

from __future__ import annotations

import argparse
import json
import sys

import openai
from openai import OpenAI

QUESTION = [{"role": "user", "content": "Write a short story about a cat who travels to Japan."}]
REPEAT = [{"role": "user", "content": "Write the word 'hello' forty times, separated by spaces."}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument(
        "--penalty-name",
        default="repetition_penalty",
        help="the server's name for the repetition penalty",
    )
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    client = OpenAI(base_url=args.url, api_key=args.api_key, timeout=300, max_retries=0)
    results: list[dict] = []

    def chat(messages, **kwargs):
        return client.chat.completions.create(model=args.model, messages=messages, **kwargs)

    def check(name: str, ok: bool, evidence: dict, required: bool = True) -> None:
        results.append({"check": name, "ok": ok, "required": required, "evidence": evidence})
        mark = "ok  " if ok else ("FAIL" if required else "note")
        print(f"  {mark} {name}: {json.dumps(evidence, ensure_ascii=False)[:300]}", flush=True)

    for field in ("max_completion_tokens", "max_tokens"):
        r = chat(QUESTION, temperature=0, **{field: 5})
        check(
            f"{field}=5 caps the answer",
            r.usage.completion_tokens == 5 and r.choices[0].finish_reason == "length",
            {
                "completion_tokens": r.usage.completion_tokens,
                "finish_reason": r.choices[0].finish_reason,
            },
        )

    chunks = list(
        chat(
            QUESTION,
            temperature=0,
            max_completion_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = [c.usage for c in chunks if c.usage]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check(
        "a stream ends with a usage chunk",
        bool(usage) and usage[-1].completion_tokens == 12 and not chunks[-1].choices,
        {"chunks": len(chunks), "usage": usage[-1].model_dump() if usage else None, "text": text},
    )

    def sampled(**kwargs) -> str:
        return chat(QUESTION, max_completion_tokens=30, **kwargs).choices[0].message.content

    a = sampled(temperature=1.0, top_p=1.0, seed=1234)
    b = sampled(temperature=1.0, top_p=1.0, seed=1234)
    c = sampled(temperature=1.0, top_p=1.0, seed=99)
    check("seed makes a sampled answer repeatable", a == b, {"seed 1234": a, "again": b})
    check("another seed gives another answer", a != c, {"seed 99": c}, required=False)

    greedy = sampled(temperature=0)
    hot_top1 = sampled(temperature=1.5, top_p=1.0, seed=5, extra_body={"top_k": 1})
    hot = sampled(temperature=1.5, top_p=1.0, seed=5)
    check(
        "top_k=1 (extra body) makes a hot sampler greedy",
        hot_top1 == greedy,
        {"greedy": greedy, "temperature 1.5, top_k 1": hot_top1},
    )
    check(
        "without top_k the hot sampler differs",
        hot != greedy,
        {"temperature 1.5": hot},
        required=False,
    )

    plain = (
        chat(REPEAT, temperature=0, max_completion_tokens=60, extra_body={args.penalty_name: 1.0})
        .choices[0]
        .message.content
    )
    penalized = (
        chat(REPEAT, temperature=0, max_completion_tokens=60, extra_body={args.penalty_name: 1.8})
        .choices[0]
        .message.content
    )
    check(
        f"{args.penalty_name} (extra body) changes a greedy answer",
        plain != penalized,
        {"1.0": plain[:120], "1.8": penalized[:120]},
    )

    try:
        chat([{"role": "user", "content": "hello " * 9000}], max_completion_tokens=5)
        check("a prompt longer than the context is refused with a 4xx", False, {"status": 200})
    except openai.APIStatusError as exc:
        check(
            "a prompt longer than the context is refused with a 4xx",
            400 <= exc.status_code < 500,
            {"status": exc.status_code, "message": str(exc)[:300]},
        )

    failed = [r["check"] for r in results if r["required"] and not r["ok"]]
    print(
        f"parameter probe: {len(results) - len(failed)}/{len(results)} checks ok"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
