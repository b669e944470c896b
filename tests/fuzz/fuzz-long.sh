#!/usr/bin/env bash
# Interface: long libFuzzer runs with a persistent corpus (docs/fuzzing.md).
#
# usage: tests/fuzz/fuzz-long.sh BUILD_DIR SOURCE_DIR SECONDS [NAME[:SECS]...]
#   Runs each harness BUILD_DIR/tests/fuzz/fuzz_NAME (every built one when
#   no NAME is given) for SECONDS, or SECS when given with the name. Its corpus lives in BUILD_DIR/corpus/NAME
#   (kept between runs; new inputs are added there) and is seeded from
#   SOURCE_DIR/fixtures/fuzz/NAME. Crash, leak, timeout and out-of-memory
#   inputs land in BUILD_DIR/crashes/NAME/, the log in BUILD_DIR/logs/NAME.log.
#   FUZZ_WORKERS (default 1) > 1 runs that many processes (libFuzzer -fork).
#   At the end a table (execs, execs/s, cov, ft, corpus size, crashes) is
#   printed and written to BUILD_DIR/fuzz-long-summary.txt; the exit status
#   is 1 when any harness found something, else 0.
set -euo pipefail
build=$1 src=$2 secs=$3
shift 3
workers=${FUZZ_WORKERS:-1}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for b in "$build"/tests/fuzz/fuzz_*; do
        [ -x "$b" ] && [ -f "$b" ] && names+=("${b##*/fuzz_}")
    done
fi
[ ${#names[@]} -gt 0 ] || { echo "fuzz-long: no harness built in $build" >&2; exit 2; }

summary=$build/fuzz-long-summary.txt
mkdir -p "$build/logs"
printf '%-14s %6s %12s %9s %7s %7s %7s %7s\n' harness secs execs execs/s cov ft corpus crashes \
    > "$summary"

# The last "cov:"/"ft:" figures libFuzzer printed and its final stats.
field() { grep -o "$1 *[0-9]*" "$2" | tail -1 | grep -o '[0-9]*$' || echo 0; }
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

found=0
for arg in "${names[@]}"; do
    n=${arg%%:*} t=$secs
    [ "$arg" != "$n" ] && t=${arg#*:}
    bin=$build/tests/fuzz/fuzz_$n
    [ -x "$bin" ] || { echo "fuzz-long: $bin not built" >&2; exit 2; }
    corpus=$build/corpus/$n crashes=$build/crashes/$n log=$build/logs/$n.log
    mkdir -p "$corpus" "$crashes"
    seeds=()
    [ -d "$src/fixtures/fuzz/$n" ] && seeds=("$src/fixtures/fuzz/$n")
    mode=()
    [ "$workers" -gt 1 ] && mode=(-fork="$workers" -ignore_crashes=1)
    echo "fuzz-long: $n for ${t}s (corpus $corpus)"
    stamp=$build/logs/$n.start
    touch "$stamp"
    start=$(date +%s)
    set +e
    "$bin" -max_total_time="$t" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        "${mode[@]}" -artifact_prefix="$crashes/" "$corpus" "${seeds[@]}" > "$log" 2>&1
    rc=$?
    set -e
    took=$(( $(date +%s) - start ))
    execs=$(stat number_of_executed_units "$log")
    if [ -z "$execs" ]; then  # fork mode prints no final stats: take the last #N
        execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    fi
    execs=${execs:-0}
    nfound=$(find "$crashes" -type f -newer "$stamp" | wc -l)  # this run's only
    [ "$rc" -ne 0 ] && [ "$nfound" -eq 0 ] && nfound=1  # died without an artifact
    [ "$nfound" -gt 0 ] && found=1
    printf '%-14s %6s %12s %9s %7s %7s %7s %7s\n' "$n" "$took" "$execs" \
        "$(( execs / (took > 0 ? took : 1) ))" "$(field 'cov:' "$log")" "$(field 'ft:' "$log")" \
        "$(find "$corpus" -type f | wc -l)" "$nfound" >> "$summary"
done
cat "$summary"
if [ "$found" -ne 0 ]; then
    echo "fuzz-long: findings in $build/crashes/ (logs in $build/logs/)" >&2
    exit 1
fi
