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
echo "== unit tests ($build)"
"$build/unit_tests" 2>&1 | tee tests/out/unit.log
tally tests/out/unit.log
echo "== API tests ($build)"
IMGAPI_BIN="$root/$build/imgapi-testserver" IMGAPI_PROD_BIN="$root/$build/imgapi" \
    "$py" tests/api/run.py 2>&1 | tee tests/out/api.log
tally tests/out/api.log
echo "== async API tests ($build)"
IMGAPI_BIN="$root/$build/imgapi-testserver" "$py" tests/api/async_requests.py 2>&1 | tee tests/out/async.log
tally tests/out/async.log
echo "== webhook tests ($build)"
IMGAPI_BIN="$root/$build/imgapi-testserver" "$py" tests/api/webhooks.py 2>&1 | tee tests/out/webhooks.log
tally tests/out/webhooks.log
echo "== streaming tests ($build)"
IMGAPI_BIN="$root/$build/imgapi-testserver" "$py" tests/api/streaming.py 2>&1 | tee tests/out/streaming.log
tally tests/out/streaming.log
echo "== OpenAI Node SDK ($build)"
IMGAPI_PROD_BIN="$root/$build/imgapi" "$py" tests/sdk/run.py 2>&1 | tee tests/out/sdk.log
tally tests/out/sdk.log
echo "== OpenAPI document ($build)"
IMGAPI_BIN="$root/$build/imgapi-testserver" "$py" tests/api/openapi.py 2>&1 | tee tests/out/openapi.log
tally tests/out/openapi.log
echo "== hardening tests ($build)"
IMGAPI_BIN="$root/$build/imgapi-testserver" "$py" tests/api/hardening.py 2>&1 | tee tests/out/hardening.log
tally tests/out/hardening.log
echo "== engine parity tests ($build)"
IMGAPI_PROD_BIN="$root/$build/imgapi" "$py" tests/engine/run.py 2>&1 | tee tests/out/engine.log
tally tests/out/engine.log
echo "== moderation corpus ($build)"
IMGAPI_PROD_BIN="$root/$build/imgapi" "$py" tests/moderation/run.py 2>&1 | tee tests/out/moderation.log
tally tests/out/moderation.log
echo "== engine end-to-end tests ($build)"
IMGAPI_PROD_BIN="$root/$build/imgapi" IMGAPI_BIN="$root/$build/imgapi-testserver" "$py" tests/engine/e2e.py 2>&1 | tee tests/out/e2e.log
tally tests/out/e2e.log
echo "== built-in model tests ($build)"
IMGAPI_PROD_BIN="$root/$build/imgapi" "$py" tests/engine/default_model.py 2>&1 | tee tests/out/default_model.log
tally tests/out/default_model.log
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
