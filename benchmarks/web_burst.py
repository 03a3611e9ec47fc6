"""A burst of concurrent customers against a running `linguadesk serve` (the issue-6
acceptance): every response must be an answer or a 429 with a localized text, never a 5xx.

    .venv/bin/python benchmarks/web_burst.py --url http://127.0.0.1:8000 --customers 50 \
        --json benchmarks/results/web-burst.json

Baseline in the same run: one customer alone, before the burst. Each customer starts a
conversation and asks one FAQ question in one of 10 languages.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from bot.messages import message

QUESTIONS = {
    "en": "Do you ship to Japan?",
    "es": "¿Cuánto tarda el envío internacional?",
    "fr": "Puis-je payer avec PayPal ?",
    "de": "Wie lange dauert der Versand innerhalb der EU?",
    "ja": "返品はできますか？",
    "zh": "国际运费是多少？",
    "ar": "هل يمكنني إرجاع منتج؟",
    "ko": "일본으로 배송하나요?",
    "pt": "Quanto custa o envio?",
    "it": "Posso pagare con PayPal?",
}


def customer(url: str, index: int) -> dict:
    language = list(QUESTIONS)[index % len(QUESTIONS)]
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=300) as client:
        created = client.post("/v1/conversations", json={"locale": language})
        result = {"language": language, "create": created.status_code}
        if created.status_code != 201:
            return result | {"body": created.json(), "seconds": time.perf_counter() - started}
        auth = {"Authorization": f"Bearer {created.json()['token']}"}
        asked = client.post(
            f"/v1/conversations/{created.json()['id']}/messages",
            headers=auth,
            json={"text": QUESTIONS[language], "locale": language},
        )
        return result | {
            "ask": asked.status_code,
            "body": asked.json(),
            "seconds": time.perf_counter() - started,
        }


def percentile(values: list[float], q: float) -> float | None:
    return (
        statistics.quantiles(values, n=100)[int(q) - 1]
        if len(values) >= 2
        else (values[0] if values else None)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()

    baseline = customer(args.url, 0)
    started = time.perf_counter()
    with ThreadPoolExecutor(args.customers) as pool:
        results = list(pool.map(lambda i: customer(args.url, i), range(args.customers)))
    wall = time.perf_counter() - started

    statuses = Counter()
    localized = mislocalized = 0
    answered_s = []
    for r in results:
        final = r.get("ask", r["create"])
        statuses[f"{'ask' if 'ask' in r else 'create'} {final}"] += 1
        if final == 429:
            key = "busy" if r["body"]["error"] == "busy" else "slow_down"
            if r["body"]["message"] == message(key, r["language"]):
                localized += 1
            else:
                mislocalized += 1
        elif final == 200:
            answered_s.append(r["seconds"])
    report = {
        "customers": args.customers,
        "wall_s": round(wall, 1),
        "statuses": dict(statuses),
        "server_errors": sum(n for k, n in statuses.items() if int(k.split()[1]) >= 500),
        "429_localized": localized,
        "429_not_localized": mislocalized,
        "baseline_answer_s": round(baseline["seconds"], 2),
        "burst_answer_p50_s": round(percentile(answered_s, 50) or 0, 2),
        "burst_answer_p95_s": round(percentile(answered_s, 95) or 0, 2),
    }
    report["p50_ratio"] = round(report["burst_answer_p50_s"] / report["baseline_answer_s"], 2)
    print(json.dumps(report, indent=2))
    if args.json_path:
        with open(args.json_path, "w") as out:
            json.dump(report, out, indent=2)
    raise SystemExit(1 if report["server_errors"] or mislocalized else 0)


if __name__ == "__main__":
    main()
