#!/bin/sh
# Runs each libFuzzer target for SECONDS on its corpus and prints one line per target:
#   fuzz_image      60 s   812345 execs   cov 1234   ft 5678   corpus 57   ok
# Fails (exit 1) when any target finds a crash, leak, timeout or out-of-memory input: its
# file stays in build-fuzz/artifacts/ and its log in build-fuzz/logs/.
#   tools/fuzz-run.sh SECONDS build-fuzz/fuzz_NAME...
# The corpus of fuzz_NAME is fuzz/corpus-NAME/ (seeded by fuzz/seed_corpora.sh when missing);
# new inputs libFuzzer finds are added to it.
set -u
cd "$(dirname "$0")/.."
secs=$1
shift
mkdir -p build-fuzz/artifacts build-fuzz/logs
need_seed=0
for bin in "$@"; do
    name=$(basename "$bin" | sed 's/^fuzz_//')
    [ -d "fuzz/corpus-$name" ] || need_seed=1
done
[ "$need_seed" -eq 0 ] || sh fuzz/seed_corpora.sh || exit 1
failed=0
for bin in "$@"; do
    target=$(basename "$bin")
    name=$(echo "$target" | sed 's/^fuzz_//')
    corpus=fuzz/corpus-$name
    log=build-fuzz/logs/$target.log
    rm -f "build-fuzz/artifacts/$target-"*
    # -timeout: one input over 10 s is a hang; -rss_limit_mb: over 2 GB is a memory bomb
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="build-fuzz/artifacts/$target-" "$corpus" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    files=$(ls "$corpus" | wc -l)
    found=$(ls "build-fuzz/artifacts/$target-"* 2>/dev/null | head -1)
    status=ok
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        status="FAILED (exit $rc${found:+, $found}; log $log)"
        failed=1
    fi
    printf '%-16s %5s s %10s execs   cov %6s   ft %6s   corpus %5s   %s\n' "$target" "$secs" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "$files" "$status"
    if [ "$status" != ok ]; then
        # the finding itself, so that a CI log that keeps no files still shows what broke
        grep -m1 -A30 -E '^==[0-9]+==ERROR|runtime error:|^==[0-9]+== ERROR|ALARM|out-of-memory' "$log" \
            | sed 's/^/    | /'
        [ -z "$found" ] || { echo "    | input (base64):"; head -c 4096 "$found" | base64 | sed 's/^/    | /'; }
    fi
done
exit $failed
