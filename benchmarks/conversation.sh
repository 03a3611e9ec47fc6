#!/usr/bin/env bash
# Reproduces the conversation rows of the README's benchmark tables (real embedded LLM).
# Usage: benchmarks/conversation.sh [OUT_DIR]   (run from the project root, after `make install`)
set -euo pipefail
out="${1:-benchmarks/results}"
mkdir -p "$out"
run() { .venv/bin/linguadesk eval conversation "$@"; }
run --benchmark language_set --json "$out/conversation-language_set.json"        # 220 questions, 10 languages
run --benchmark dstc11_track5 --limit 300 \
    --json "$out/conversation-dstc11_track5.json"                               # 300 turns spread over val
