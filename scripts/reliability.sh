#!/usr/bin/env bash
# Regenerates RELIABILITY.md (issue 5): runs the reliability suite in soak mode, the shuttle
# model tests, and the fuzzers, collects the `RELIABILITY key=value ...` lines the tests print,
# and rewrites RELIABILITY.md from them. One command, from the repository root or anywhere:
#
#   scripts/reliability.sh
#
# Knobs (environment variables, defaults in brackets):
#   MEMO_SOAK_SECS         seconds of the mixed soak workload (tests/reliability_soak.rs) [240]
#   FUZZ_SECS              seconds per fuzz target (two targets) [150]
#   MEMO_MODEL_ITERATIONS  shuttle schedules per model test, random and PCT each [10000]
#   PROPTEST_CASES         property cases per property test [20000, from MEMO_SOAK=1]
#   RELIABILITY_PROFILE    `debug` (the test build CI makes; debug assertions on) or `release`
#   MEMO_SOAK              1; `0` runs the short versions (a quick check of this script)
#
# With the defaults the whole run takes about 15 to 20 minutes on two cores. Logs go to
# target/reliability/. The fuzzers need `cargo install cargo-fuzz`; on a stable toolchain they
# run with RUSTC_BOOTSTRAP=1 (libFuzzer needs nightly-only flags); without cargo-fuzz the fuzz
# rows say "not run". The script exits non-zero if any step failed, after writing the file
# (failures are listed in it).
set -uo pipefail
cd "$(dirname "$0")/.."

: "${MEMO_SOAK_SECS:=240}"
: "${FUZZ_SECS:=150}"
: "${MEMO_MODEL_ITERATIONS:=10000}"
: "${RELIABILITY_PROFILE:=debug}"
: "${MEMO_SOAK:=1}"
export MEMO_SOAK MEMO_SOAK_SECS MEMO_MODEL_ITERATIONS
if [ -n "${PROPTEST_CASES:-}" ]; then export PROPTEST_CASES; fi

LOGS=target/reliability
mkdir -p "$LOGS"
# One run at a time: two runs would share the logs and the two cores.
exec 9> "$LOGS/.lock"
if command -v flock > /dev/null && ! flock -n 9; then
    echo "another scripts/reliability.sh is running (lock $LOGS/.lock); try again when it ends" >&2
    exit 2
fi
RESULTS="$LOGS/results.txt"
: > "$RESULTS"
profile=()
if [ "$RELIABILITY_PROFILE" = release ]; then profile=(--release); fi
started=$(date +%s)
status=0

# step NAME LOG COMMAND...: runs a step (stdout to LOG, stderr to LOG.err), records its exit
# code, time, summary lines, and the names and messages of failing tests.
step() {
    local name=$1 log=$2
    shift 2
    local t0 rc
    t0=$(date +%s)
    echo "== $name" >&2
    "$@" > "$log" 2> "$log.err"
    rc=$?
    echo "STEP name=$name rc=$rc secs=$(($(date +%s) - t0))" >> "$RESULTS"
    grep -ao 'RELIABILITY family=.*' "$log" >> "$RESULTS"
    if [ "$rc" -ne 0 ]; then
        status=1
        {
            grep -aE '^test .* \.\.\. FAILED$|^[a-z_0-9:]+ --- FAILED$' "$log" \
                | sed -E 's/^test (.*) \.\.\. FAILED$/\1/; s/ --- FAILED$//'
            grep -aq '^RELIABILITY family=soak .*hangs=1' "$log" && echo "(the watchdog ended the process)"
        } | sort -u | sed "s/^/FAILED step=$name test=/" >> "$RESULTS"
        {
            grep -aA1 ' panicked at ' "$log.err" | grep -avE ' panicked at |^--$'
            grep -a '^hang (watchdog): ' "$log.err"
        } | grep -avE 'recursive call on key|^note: |leader [0-9]+ fails|first computation fails' \
            | sort | uniq -c | sort -rn | head -8 \
            | sed -E "s/^ *([0-9]+) /MESSAGE step=$name count=\1 text=/" >> "$RESULTS"
    fi
}

echo "== building the test binaries" >&2
cargo test "${profile[@]}" --tests --no-run > "$LOGS/build.log" 2>&1 || {
    echo "build failed: see $LOGS/build.log" >&2
    exit 1
}

for file in tests/reliability_*.rs; do
    name=$(basename "$file" .rs)
    step "$name" "$LOGS/$name.log" cargo test "${profile[@]}" --test "$name" -- --nocapture
done

step model "$LOGS/model.log" env RUSTFLAGS="--cfg memo_shuttle" CARGO_TARGET_DIR=target/shuttle \
    cargo test -p memo-runtime --lib model_tests -- --nocapture

if cargo fuzz --version > /dev/null 2>&1; then
    for target in pattern escape; do
        step "fuzz_$target" "$LOGS/fuzz_$target.log" bash -c \
            "cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target -- -max_total_time=$FUZZ_SECS -print_final_stats=1 -rss_limit_mb=4096"
        runs=$(cat "$LOGS/fuzz_$target.log" "$LOGS/fuzz_$target.log.err" | grep -a 'stat::number_of_executed_units' | awk '{print $2}' | tail -1)
        echo "RELIABILITY family=fuzz mode=soak target=$target executions=${runs:-0} secs=$FUZZ_SECS" >> "$RESULTS"
    done
else
    echo "RELIABILITY family=fuzz mode=soak target=pattern executions=not_run secs=0" >> "$RESULTS"
    echo "RELIABILITY family=fuzz mode=soak target=escape executions=not_run secs=0" >> "$RESULTS"
fi

total=$(($(date +%s) - started))
{
    echo "META date=$(date -u +%Y-%m-%dT%H:%MZ) total_secs=$total soak_secs=$MEMO_SOAK_SECS fuzz_secs=$FUZZ_SECS"
    echo "META model_iterations=$MEMO_MODEL_ITERATIONS profile=$RELIABILITY_PROFILE proptest_cases=${PROPTEST_CASES:-20000}"
    echo "META toolchain=$(rustc --version | tr ' ' '_') cores=$(nproc 2>/dev/null || echo '?')"
} >> "$RESULTS"

awk -f scripts/reliability_report.awk "$RESULTS" > RELIABILITY.md
echo "RELIABILITY.md written ($total s); logs in $LOGS" >&2
exit "$status"
