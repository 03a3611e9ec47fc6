"""``linguadesk bench llm``: how fast a chat endpoint answers realistic support turns.

The prompts are the bot's own answer prompts (system rules + four FAQ entries + a customer
question, in ten languages), so the shared system prefix is what a prefix cache sees in
production. The entries are not picked by retrieval, so the prompts carry the rule the engine
uses when retrieval is sure of its match ("answer from them"): the model writes whole answers,
not a bare NOT_COVERED, and the output lengths are a support answer's. Each request streams;
time to first token, output tokens (from the server's usage report when it gives one) and
durations are measured per request.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from langchain_core.documents import Document
from openai import OpenAI

from bot.llm_server import LLMEndpoint, resolve_endpoint
from bot.prompts import ANSWER_ANYWAY_RULE, ANSWER_PROMPT, format_entries, register_for
from common.language import language_name
from knowledge.loaders import SUPPORTED_SUFFIXES, load_file
from linguadesk.settings import Settings

ENTRIES_PER_PROMPT = 4
QUESTIONS = [
    ("en", "How long does international shipping take, and how much does express cost?"),
    ("es", "¿Cuánto tiempo tengo para devolver un producto y quién paga el envío?"),
    ("fr", "Puis-je payer avec PayPal ou en plusieurs fois ?"),
    ("de", "Wie kann ich mein Passwort zurücksetzen, wenn ich keine E-Mail bekomme?"),
    ("ja", "海外への配送にはどのくらい時間がかかりますか？"),
    ("zh", "退货需要多长时间才能收到退款？"),
    ("pt", "Vocês enviam para o Brasil? Quanto custa o frete?"),
    ("ko", "주문을 취소하려면 어떻게 해야 하나요?"),
    ("it", "Posso cambiare l'indirizzo di consegna dopo aver ordinato?"),
    ("ar", "كم تستغرق معالجة استرداد المبلغ بعد إرجاع المنتج؟"),
]


@dataclass
class Sample:
    ttft_s: float | None
    seconds: float
    output_tokens: int
    error: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        """This conversation's generation speed, after its first token."""
        if self.ttft_s is None or self.output_tokens < 2 or self.seconds <= self.ttft_s:
            return None
        return (self.output_tokens - 1) / (self.seconds - self.ttft_s)


def rag_prompts(faq_folder: Path, count: int, start: int = 0) -> list[list[dict]]:
    """``count`` answer prompts as OpenAI messages, cycling through QUESTIONS and the entries
    from the ``start``-th prompt on (each level gets its own, so that a server's cache of
    whole prompts from an earlier level does not flatter a later one; the system prefix stays
    shared, as in production)."""
    entries = [
        entry
        for path in sorted(faq_folder.rglob("*"))
        if path.suffix.lower() in SUPPORTED_SUFFIXES
        for entry in load_file(path, path.name)
    ]
    if len(entries) < ENTRIES_PER_PROMPT:
        raise ValueError(
            f"{faq_folder} has {len(entries)} FAQ entries; the benchmark needs at "
            f"least {ENTRIES_PER_PROMPT}. Point --faq at a folder of FAQ files."
        )
    prompts = []
    for i in range(start, start + count):
        language, question = QUESTIONS[i % len(QUESTIONS)]
        # A different set of entries for each repeat of a question.
        first = i * ENTRIES_PER_PROMPT + i // len(QUESTIONS)
        chosen = [entries[(first + j) % len(entries)] for j in range(ENTRIES_PER_PROMPT)]
        docs = [Document(f"{e.question}\n\n{e.answer}") for e in chosen]
        messages = ANSWER_PROMPT.format_messages(
            entries=format_entries(docs),
            question=question,
            language_name=language_name(language),
            register=register_for(language),
            uncovered_rule=ANSWER_ANYWAY_RULE,
            reminder="",
            history=[],
        )
        prompts.append(
            [
                {"role": "system" if m.type == "system" else "user", "content": m.content}
                for m in messages
            ]
        )
    return prompts


def measure(
    client: OpenAI,
    model: str,
    messages: list[dict],
    *,
    max_tokens: int,
    extra_body: dict | None = None,
) -> Sample:
    started = time.perf_counter()
    first, chunks, usage = None, 0, None
    try:
        # The prompts are plain dicts, not the SDK's message TypedDicts.
        stream = client.chat.completions.create(  # type: ignore[call-overload]
            model=model,
            messages=messages,
            stream=True,
            max_tokens=max_tokens,
            temperature=0.3,
            seed=7,
            stream_options={"include_usage": True},
            extra_body=extra_body or {},
        )
        for chunk in stream:
            if getattr(chunk, "usage", None):
                usage = chunk.usage.completion_tokens
            if chunk.choices and chunk.choices[0].delta.content:
                if first is None:
                    first = time.perf_counter() - started
                chunks += 1
    except Exception as exc:  # counted, not fatal: a benchmark under load sees errors
        return Sample(
            first, time.perf_counter() - started, chunks, f"{type(exc).__name__}: {exc}"[:200]
        )
    return Sample(first, time.perf_counter() - started, usage or chunks)


def run(
    client: OpenAI,
    model: str,
    prompts: list[list[dict]],
    *,
    concurrency: int,
    max_tokens: int,
    extra_body: dict | None = None,
    on_done: Callable[[Sample], None] | None = None,
) -> dict:
    """All prompts, ``concurrency`` at a time; the summary of one level."""

    def one(messages: list[dict]) -> Sample:
        sample = measure(client, model, messages, max_tokens=max_tokens, extra_body=extra_body)
        if on_done:
            on_done(sample)
        return sample

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        samples = list(pool.map(one, prompts))
    wall = time.perf_counter() - started
    return summarize(samples, wall, concurrency)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarize(samples: list[Sample], wall_s: float, concurrency: int) -> dict:
    ok = [s for s in samples if s.error is None]
    ttfts = [s.ttft_s for s in ok if s.ttft_s is not None]
    speeds = [s.tokens_per_s for s in ok if s.tokens_per_s is not None]
    tokens = sum(s.output_tokens for s in ok)
    return {
        "concurrency": concurrency,
        "requests": len(samples),
        "errors": len(samples) - len(ok),
        "wall_s": round(wall_s, 2),
        "ttft_p50_s": _round(_percentile(ttfts, 50)),
        "ttft_p95_s": _round(_percentile(ttfts, 95)),
        "output_tokens": tokens,
        "aggregate_tokens_per_s": _round(tokens / wall_s if wall_s else None),
        "per_conversation_tokens_per_s_p50": _round(_percentile(speeds, 50)),
        "first_errors": [s.error for s in samples if s.error][:3],
        "samples": [asdict(s) for s in samples],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- the command ----------------------------------------------------------------------------


def endpoint(settings: Settings, url: str | None = None, model: str | None = None) -> LLMEndpoint:
    """``url`` as given, else the configured endpoint (starting the embedded llama.cpp server
    when none is); ``model`` overrides the model name."""
    if url:
        return LLMEndpoint(
            url.rstrip("/"), model or settings.llm.model, settings.llm.api_key.get_secret_value()
        )
    found = resolve_endpoint(settings)
    return replace(found, model=model or found.model)


def run_levels(
    settings: Settings,
    target: LLMEndpoint,
    faq_folder: Path,
    concurrency: list[int],
    *,
    requests: int,
    max_tokens: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Each concurrency level (1, the baseline, always first) on its own prompts, with each
    level's aggregate tokens/s against the baseline's."""
    progress = progress or (lambda phase, done, total: None)
    client = OpenAI(
        base_url=target.url, api_key=target.api_key, timeout=settings.llm.timeout_s, max_retries=0
    )
    # One request first, not counted: loading weights or compiling is not answering.
    measure(client, target.model, rag_prompts(faq_folder, 1, start=10_000)[0], max_tokens=8)
    levels = [1] + sorted({c for c in concurrency if c > 1})
    results = []
    for index, level in enumerate(levels):
        prompts = rag_prompts(faq_folder, requests, start=index * requests)
        results.append(
            run(
                client,
                target.model,
                prompts,
                concurrency=level,
                max_tokens=max_tokens,
                on_done=_counted(f"concurrency {level}", requests, progress),
            )
        )
    baseline = results[0]["aggregate_tokens_per_s"]
    for r in results:
        rate = r["aggregate_tokens_per_s"]
        r["aggregate_vs_baseline"] = round(rate / baseline, 2) if rate and baseline else None
    return {"url": target.url, "model": target.model, "max_tokens": max_tokens, "levels": results}


def _counted(
    phase: str, total: int, progress: Callable[[str, int, int], None]
) -> Callable[[Sample], None]:
    """An ``on_done`` for :func:`run` (called from its worker threads) that reports the count."""
    lock, done = threading.Lock(), [0]
    progress(phase, 0, total)

    def on_done(_sample: Sample) -> None:
        with lock:
            done[0] += 1
            progress(phase, done[0], total)

    return on_done
