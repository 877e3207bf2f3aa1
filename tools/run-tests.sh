#!/bin/bash
# Runs the test suite twice: the release build, then the AddressSanitizer +
# UndefinedBehaviorSanitizer build. Extra arguments select suites/tests by name.
# The last line sums both runs: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0
status=0
run() {
    local label=$1; shift
    echo "== $label"
    local log
    log=$(mktemp)
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "$label: the runner did not finish (exit $rc)"
        total_fail=$((total_fail + 1))
        status=1
        return
    fi
    total_pass=$((total_pass + $(echo "$line" | cut -d' ' -f1)))
    total_fail=$((total_fail + $(echo "$line" | cut -d' ' -f3)))
    [ "$rc" -eq 0 ] || status=1
}
run release env FM_BIN=build/facemask ./build/tests "$@"
run asan+ubsan env FM_BIN=build-asan/facemask FM_SANITIZED=1 \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./build-asan/tests "$@"
echo "tests: $total_pass passed, $total_fail failed"
exit $status
