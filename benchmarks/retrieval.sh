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
# The "does this entry answer it" decision per language, on covid_faq_en's labelled pairs
# translated by the LLM (about 30 minutes of translation on 2 CPU cores; cached after).
.venv/bin/python benchmarks/pair_languages.py --pairs 100 --languages de,es,ar,zh,ja \
    --json "$out/pair_languages.json"
