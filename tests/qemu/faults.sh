#!/usr/bin/env bash
# An app that goes wrong on bare metal ends as it does on tern-linux
# (tests/workload/linux_faults.sh), with the same words: the fault app
# (tests/workload/apps/fault.c) on the ESP with env FAULT=CASE, booted
# under QEMU + OVMF on QEMU's default CPU model (TCG, virtio-rng: no
# RDRAND there), once per case.
#
# usage: faults.sh CASE BUILD_DIR SOURCE_DIR FAULT_ELF
#   null  a NULL write             -> crash:page-fault        status 163 (halt 81)
#   ud    ud2                      -> crash:invalid-opcode    status 163
#   div   a divide by zero         -> crash:divide-error      status 163
#   wx    a write to its sealed text -> crash:protection-fault status 163
#   spin  a thread that never yields -> crash:watchdog (the metal watchdog,
#         after >= 1000 ms of busy time)                      status 163
#   stack a runaway recursion      -> crash:stack-overflow (#PF on the
#         not-present guard page below the thread's stack)   status 163
#   oom   allocates until refused, returns 12 -> reason=returned code=12  status 25
#   exit3 exit(3)                  -> reason=exit code=3      status 7
# Each case checks that TERN_READY came before the app's end, the
# TERN_APP_EXIT marker, a register dump for a crash (after TERN_READY),
# and no TERN_PANIC (the OS itself did not fail).
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
fault_elf=$4
. "$src/tests/integration/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"

mem=16 reason= code=81 status=163
case $case_ in
    null)  reason=crash:page-fault ;;
    ud)    reason=crash:invalid-opcode ;;
    div)   reason=crash:divide-error ;;
    wx)    reason=crash:protection-fault ;;
    spin)  reason=crash:watchdog ;;
    stack) reason=crash:stack-overflow ;;
    oom)   reason=returned code=12 status=25 mem=4 ;;
    exit3) reason=exit code=3 status=7 ;;
    *) fail "unknown case $case_" ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-faults-test.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/serial.log
expect() { [ "$2" = "$3" ] || { cat "$out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }
field() { marker_field "$out" "$1" "$2" | tr -d '\r'; }
line_of() { grep -an -m1 "$1" "$out" | cut -d: -f1; }

mkdir -p "$tmp/wl"
cp "$fault_elf" "$tmp/wl/fault.elf"
cat >"$tmp/wl/manifest.json" <<JSON
{
  "tern_manifest": 1, "name": "fault", "version": "1.0.0",
  "app": { "path": "fault.elf", "env": { "FAULT": "$case_", "FAULT_AFTER_MS": "100" } },
  "endpoints": [ { "name": "web", "proto": "http", "port": 80 } ],
  "resources": { "memory_mib": $mem },
  "health": { "http": "/healthz", "port": 80 },
  "restart": "on-failure"
}
JSON
# the raw fault app: a development image (DEV=1, /tern/dev.json) on purpose
DEV=1 "$src/scripts/make-image.sh" "$build" "$tmp/tern.img" "" 64 "$tmp/wl" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$src/scripts/run-qemu.sh" "$build" --image "$tmp/tern.img" --net "$port" --rng --cpu default \
    </dev/null >"$out" 2>&1 &
pid=$!
wait_for_marker "$out" '^TERN_APP_EXIT ' 120 "$pid"
# The guest leaves at once after the marker: bounded, never a hang.
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { cat "$out" >&2; fail "QEMU still running 30 s after TERN_APP_EXIT"; }
got=0
wait "$pid" || got=$?
pid=

expect "QEMU exit status (halt $code)" "$got" "$status"
ready=$(line_of '^TERN_READY ')
[ -n "$ready" ] || { cat "$out" >&2; fail "the app never served (no TERN_READY)"; }
[ "$ready" -lt "$(line_of '^TERN_APP_EXIT ')" ] || fail "TERN_APP_EXIT came before TERN_READY"
echo "ok - TERN_READY came first"
expect "TERN_APP_EXIT reason" "$(field TERN_APP_EXIT reason)" "$reason"
expect "TERN_APP_EXIT code" "$(field TERN_APP_EXIT code)" "$code"
grep -aq '^TERN_PANIC' "$out" && { cat "$out" >&2; fail "the OS panicked"; }
grep -aq '^TERN_HALT code=0' "$out" && { cat "$out" >&2; fail "looks like success"; }
case $case_ in
    oom)
        grep -aq 'arena refused after [0-9]* MiB' "$out" || fail "the app was not refused memory"
        echo "ok - the arena refused the app"
        ;;
    exit3) ;;
    *)
        dump=$(line_of '^  rip=[0-9a-f]\{16\} ')
        [ -n "$dump" ] && [ "$dump" -gt "$ready" ] || { cat "$out" >&2; fail "no register dump after TERN_READY"; }
        echo "ok - register dump"
        ;;
esac
if [ "$case_" = spin ]; then
    ms=$(sed -n 's/.*an app thread ran \([0-9]*\) ms without yielding (watchdog 1000 ms).*/\1/p' "$out" | head -1)
    [ -n "$ms" ] && [ "$ms" -ge 1000 ] && [ "$ms" -lt 3000 ] || { cat "$out" >&2; fail "watchdog line: ran [$ms] ms"; }
    echo "ok - the watchdog stopped the thread after $ms ms"
fi
grep -aE '^(TERN_READY|TERN_APP_EXIT|TERN_HALT) |guard: |^  [a-z]' "$out" | tr -d '\r'
echo "faults $case_: all passed"
