#!/usr/bin/env bash
# The README's test command runs this: the whole suite on the normal build, then again on the
# AddressSanitizer+UBSan build, then the unit tests under valgrind. Ends with one line
# "N passed, N failed" for CI.
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
total_p=0; total_f=0
count() {
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    if [ -z "$line" ]; then total_f=$((total_f + 1)); return; fi
    total_p=$((total_p + $(echo "$line" | awk '{print $1}')))
    total_f=$((total_f + $(echo "$line" | awk '{print $3}')))
}
mkdir -p tests/out
if ! make -j"$jobs" all >tests/out/build.log 2>&1; then
    cat tests/out/build.log; echo "0 passed, 1 failed"; exit 1
fi
tests/run_all.sh build 2>&1 | tee tests/out/normal.log
count tests/out/normal.log
if make -j"$jobs" asan >tests/out/build-asan.log 2>&1; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        tests/run_all.sh build-asan 2>&1 | tee tests/out/asan.log
    count tests/out/asan.log
else
    cat tests/out/build-asan.log; total_f=$((total_f + 1))
fi
echo "== valgrind (unit tests)"
if IMGAPI_TEST_FAULT_POINTS=0 valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    build/unit_tests >tests/out/valgrind.log 2>&1; then
    total_p=$((total_p + 1)); echo "ok   valgrind unit tests"
else
    tail -50 tests/out/valgrind.log; total_f=$((total_f + 1)); echo "FAIL valgrind unit tests"
fi
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
