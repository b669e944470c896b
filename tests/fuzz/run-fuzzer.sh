#!/usr/bin/env bash
# run-fuzzer.sh BIN CORPUS_DIR SECONDS: runs one libFuzzer harness over its
# seed corpus (read-only; new inputs go to a temporary folder) for SECONDS.
# Any crash, leak, timeout or out-of-memory fails the test: libFuzzer's own
# exit code for a finding is 77, which meson reads as "skipped", so the
# codes are set to 1 here.
set -euo pipefail
bin=$1 corpus=$2 secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exec "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -artifact_prefix="$work/" "$work" "$corpus"
