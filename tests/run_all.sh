#!/usr/bin/env bash
# Runs the unit tests and the black-box HTTP tests against one build directory and prints
# one closing line: "N passed, N failed".
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
py=/usr/bin/python3
passed=0; failed=0
tally() { # reads the runner's closing line from a log
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
    passed=$((passed + $(echo "$line" | awk '{print $1}')))
    failed=$((failed + $(echo "$line" | awk '{print $3}')))
}
mkdir -p tests/out
# every suite finds the binaries under test here (the test server and the product)
export IMGAPI_BIN="$root/$build/imgapi-testserver" IMGAPI_PROD_BIN="$root/$build/imgapi"
suite() { # suite TITLE LOG COMMAND...: runs one suite, keeps its log, counts its closing line
    local title=$1 log=tests/out/$2.log
    shift 2
    echo "== $title ($build)"
    "$@" 2>&1 | tee "$log"
    tally "$log"
}
suite "unit tests" unit "$build/unit_tests"
suite "API tests" api "$py" tests/api/run.py
suite "async API tests" async "$py" tests/api/async_requests.py
suite "webhook tests" webhooks "$py" tests/api/webhooks.py
suite "streaming tests" streaming "$py" tests/api/streaming.py
suite "OpenAI Node SDK" sdk "$py" tests/sdk/run.py
suite "edit API tests" edits "$py" tests/api/edits.py
suite "A1111 API tests" a1111 "$py" tests/api/a1111.py
suite "command-line help and options" cli_help "$py" tests/api/cli_help.py
suite "OpenAPI document" openapi "$py" tests/api/openapi.py
suite "hardening tests" hardening "$py" tests/api/hardening.py
suite "probe regressions" probe "$py" tests/api/probe.py
suite "PostgreSQL cluster tests" cluster env IMGAPI_UNIT_BIN="$root/$build/unit_tests" "$py" tests/cluster/run.py
suite "engine parity tests" engine "$py" tests/engine/run.py
suite "adapter (LoRA) tests" lora "$py" tests/engine/lora.py
suite "diffusers folders, VAEs and embeddings" diffusers "$py" tests/engine/diffusers.py
suite "GGUF files" gguf "$py" tests/engine/gguf.py
suite "FLUX.2 components" flux2 "$py" tests/engine/flux2.py
suite "Qwen tokenizer (FLUX.2 [klein])" qwen_tokenizer "$py" tests/engine/qwen_tokenizer.py
suite "moderation corpus" moderation "$py" tests/moderation/run.py
suite "engine end-to-end tests" e2e "$py" tests/engine/e2e.py
suite "edit tests (engine)" edit "$py" tests/engine/edit.py
suite "built-in model tests" default_model "$py" tests/engine/default_model.py
suite "built-in model edit tests" default_model_edit "$py" tests/engine/default_model_edit.py
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
