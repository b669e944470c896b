#!/usr/bin/env bash
# An app that goes wrong on tern-linux ends with the right marker and exit
# status, never as success: a NULL write, ud2, a divide error, a write to
# its own sealed text (W^X), a thread that never yields and a runaway
# recursion onto the guard page below its stack each end with a
# register dump, TERN_APP_EXIT reason=crash:WHAT and status 81 (a panic of the OS is 70); an app that
# exhausts its arena is refused memory (the OS keeps serving until the app
# ends with its own code 12); exit(3) ends with 3; an arena larger than
# the OS's memory is refused before the app runs (78).
# usage: linux_faults.sh TERN_LINUX FAULT_ELF SOURCE_ROOT
set -u
tern=$1 fault=$2 root=$3
. "$root/tests/integration/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$fault" "$tmp/fault.elf"
expect() { [ "$2" = "$3" ] || { cat "$tmp/out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }

# run FAULT MEMORY_MIB: runs the fault app to its end; sets $code.
run() {
    cat >"$tmp/manifest.json" <<JSON
{
  "tern_manifest": 1, "name": "fault", "version": "1.0.0",
  "app": { "path": "fault.elf", "env": { "FAULT": "$1", "FAULT_AFTER_MS": "100" } },
  "endpoints": [ { "name": "web", "proto": "http", "port": 80 } ],
  "resources": { "memory_mib": $2 },
  "health": { "http": "/healthz", "port": 80 },
  "restart": "on-failure"
}
JSON
    timeout 60 "$tern" --allow-unsigned --manifest "$tmp/manifest.json" >"$tmp/out" 2>&1 </dev/null
    code=$?
}

for f in null:page-fault ud:invalid-opcode div:divide-error wx:protection-fault spin:watchdog \
         stack:stack-overflow; do
    run "${f%%:*}" 16
    expect "${f%%:*}: exit status" "$code" 81
    grep -q '^TERN_READY ' "$tmp/out" || fail "${f%%:*}: it never served before the fault"
    expect "${f%%:*}: marker" "$(marker_field "$tmp/out" TERN_APP_EXIT reason)" "crash:${f#*:}"
    grep -q '^  rip=' "$tmp/out" || fail "${f%%:*}: no register dump"
    grep -q '^TERN_HALT code=0' "$tmp/out" && fail "${f%%:*}: looks like success"
done
run oom 4
expect "oom: the app's own code" "$code" 12
grep -q 'arena refused after [0-9]* MiB' "$tmp/out" || fail "oom: the app was not refused memory"
expect "oom: marker" "$(marker_field "$tmp/out" TERN_APP_EXIT code)" 12
run exit3 16
expect "exit(3): status" "$code" 3
expect "exit(3): marker" "$(marker_field "$tmp/out" TERN_APP_EXIT reason)" exit
run exit3 4096
expect "arena larger than the OS's heap: refused" "$code" 78
grep -q '^TERN_APP_REFUSED name=fault ' "$tmp/out" || fail "no TERN_APP_REFUSED for a 4 GiB arena"
grep -q '^TERN_APP_START' "$tmp/out" && fail "an app started with no arena"
echo "linux_faults: all passed"
