#!/usr/bin/env bash
# tern-linux boots to TERN_BOOT_OK within a second, halts cleanly with
# status 0 on SIGTERM and on SIGINT, and refuses bad command lines clearly.
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for sig in TERM INT; do
    out=$work/out.$sig
    "$bin" >"$out" 2>&1 &
    pid=$!
    wait_for_marker "$out" '^TERN_BOOT_OK backend=linux ' 5 "$pid"
    ms=$(marker_field "$out" TERN_BOOT_OK boot_ms)
    [ -n "$ms" ] && [ "$ms" -lt 1000 ] || fail "boot_ms=$ms is not under 1000"
    kill -"$sig" "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] || fail "exit status $rc after SIG$sig"
    grep -q '^TERN_HALT code=0$' "$out" || fail "no 'TERN_HALT code=0' after SIG$sig"
done

"$bin" --version | grep -Eq '^tern-linux [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
"$bin" --help | grep -q -- '--disk FILE' || fail "--help does not list --disk"

"$bin" --no-such-flag >"$work/bad" 2>&1 && fail "an unknown flag was accepted"
[ $? -eq 2 ] || true
"$bin" --mem banana >"$work/bad" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "mem wants a size" "$work/bad" || fail "--mem banana: rc=$rc"
"$bin" --disk "$work/missing.img" >"$work/bad" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "missing.img: No such file" "$work/bad" || fail "--disk missing: rc=$rc"
truncate -s 1M "$work/d.img"
"$bin" --disk "$work/d.img,sector=1000" >"$work/bad" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "sector must be 512 or 4096" "$work/bad" || fail "sector=1000: rc=$rc"
echo "linux_boot: ok"
