#!/usr/bin/env bash
# Reproduces the retrieval rows of the README's benchmark table.
# Usage: benchmarks/retrieval.sh [OUT_DIR]   (run from the project root, after `make install`)
set -euo pipefail
out="${1:-benchmarks/results}"
mkdir -p "$out"
run() { .venv/bin/linguadesk eval retrieval "$@"; }
run --benchmark banking77 --json "$out/banking77.json"
run --benchmark arbanking77 --json "$out/arbanking77.json"
run --benchmark covid_faq_en --json "$out/covid_faq_en.json"
run --benchmark xquad_r --json "$out/xquad_r.json"                       # X -> en, all 11 languages
run --benchmark xquad_r --index-languages all \
    --json "$out/xquad_r_pooled.json"                                    # LAReQA pooled index, 13k sentences
