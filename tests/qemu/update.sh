#!/usr/bin/env bash
# A/B updates on bare metal (QEMU + OVMF, TCG), the same flow as
# tests/workload/linux_update.sh on tern-linux (docs/updates.md). v1
# (hello 1.0.0, greeting "v1") is in slot A by make-image; v2 is installed
# into slot B by tern-pkg install (offline), or by the update endpoint:
#   crash      the fault app crashing at start (FAULT_EARLY=1), 2 trial
#              boots: each crash leaves through isa-debug-exit (81, QEMU
#              status 163); boot 3 rolls back with tries-exhausted;
#   healthy    hello "v2": TERN_UPDATE_TRY, TERN_UPDATE_CONFIRMED, v2 serves,
#              /status says B active and confirmed;
#   unhealthy  the fault app answering 503 on /healthz until its 1.5 s
#              deadline: TERN_UPDATE_FAILED reason=unhealthy, halt 75 = a
#              reset (QEMU runs with -no-reboot: it ends with 0); boot 2
#              rolls back with reason=unhealthy;
#   spin       the fault app looping without a yield (FAULT_EARLY=1), 1
#              trial boot: the watchdog (crash:watchdog, 163); boot 2 rolls
#              back with tries-exhausted;
#   endpoint   v1's manifest turns the update endpoint on: PUT without the
#              token is 401, PUT v2 with it is 202, TERN_UPDATE_STAGED, the
#              reset; boot 2 tries B and confirms it, and v2 serves.
# In each bad case v1 serves again and /status shows B bad with the
# rollback's slot and reason. This script is the machine's power supply:
# it boots the same disk again each time QEMU ends. Each wait is for a
# marker or for QEMU's end, bounded.
# usage: update.sh CASE BUILD_DIR SOURCE_DIR FAULT_ELF
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
fault=$4
. "$src/tests/integration/lib.sh"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"
tpk=$build/tools/tern-pkg
key=$src/fixtures/pkg/keys/test-only-signing-key.pem
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-qemu-update.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/serial.log
C="curl -sS --max-time 20"
expect() { [ "$2" = "$3" ] || { tail -40 "$out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }
field() { marker_field "$out" "$1" "$2" | tr -d '\r'; }
status_update() {
    $C "http://127.0.0.1:$port/status" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

# package NAME VERSION ELF ENV_JSON [HEALTH_JSON]: a signed package
# $tmp/NAME.tpk (with the update endpoint on, token "s3cret", when
# $endpoint is set)
token=s3cret
endpoint=
[ "$case_" = endpoint ] &&
    endpoint=", \"update\": { \"path\": \"/tern/update\", \"token_sha256\": \"$(printf %s "$token" | sha256sum | cut -c1-64)\" }"
package() {
    local health=${5:-'{ "http": "/healthz", "port": 80 }'}
    mkdir -p "$tmp/$1"
    cat >"$tmp/$1/manifest.json" <<JSON
{ "tern_manifest": 1, "name": "web", "version": "$2",
  "app": { "path": "app.elf", "env": $4 },
  "endpoints": [ { "name": "web", "proto": "http", "port": 80 } ],
  "resources": { "memory_mib": 4 }, "health": $health$endpoint }
JSON
    "$tpk" build --manifest "$tmp/$1/manifest.json" --file "app.elf=$3" -o "$tmp/$1/u.tpk" >/dev/null
    "$tpk" sign --key "$key" -o "$tmp/$1.tpk" "$tmp/$1/u.tpk" >/dev/null
}
package v1 1.0.0 "$build/apps/hello.elf" '{ "GREETING": "v1" }'
tries=2
case $case_ in
    crash) package v2 2.0.0 "$fault" '{ "FAULT": "null", "FAULT_EARLY": "1" }' ;;
    healthy|endpoint) package v2 2.0.0 "$build/apps/hello.elf" '{ "GREETING": "v2" }' ;;
    unhealthy) package v2 2.0.0 "$fault" '{ "FAULT": "unhealthy", "FAULT_GREETING": "v2" }' \
                   '{ "http": "/healthz", "port": 80, "deadline_ms": 1500 }' ;;
    spin) package v2 2.0.0 "$fault" '{ "FAULT": "spin", "FAULT_EARLY": "1" }'; tries=1 ;;
    *) fail "unknown case $case_" ;;
esac
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" "" 64 "$tmp/v1.tpk" >/dev/null
if [ "$case_" != endpoint ]; then
    "$tpk" install --tries $tries "$tmp/tern.img" "$tmp/v2.tpk" 2>/dev/null | grep -q 'slot B .*pending' ||
        fail "v2 not staged"
fi

port=$(free_port)
# boot N: one power-on of the disk; returns with QEMU running once
# TERN_READY is on serial, or sets $status when QEMU ends first.
boot() {
    "$src/scripts/run-qemu.sh" "$build" --image "$tmp/tern.img" --net "$port" --rng \
        </dev/null >"$out" 2>&1 &
    pid=$!
    local i
    for i in $(seq 900); do
        if ! kill -0 "$pid" 2>/dev/null; then
            status=0
            wait "$pid" || status=$?
            pid=
            return
        fi
        grep -q '^TERN_READY ' "$out" && { status=running; return; }
        sleep 0.2
    done
    fail "boot $1: neither an end nor TERN_READY in 180 s"
}
# ends N: QEMU, running, ends by itself within 180 s; sets $status.
ends() {
    local i
    [ -n "$pid" ] || return 0
    for i in $(seq 900); do
        if ! kill -0 "$pid" 2>/dev/null; then
            status=0
            wait "$pid" || status=$?
            pid=
            return
        fi
        sleep 0.2
    done
    fail "boot $1: QEMU did not end in 180 s"
}
# v1_back N WANT_REASON: boot N rolled B back with that reason, and v1
# serves from slot A with /status saying so.
v1_back() {
    expect "boot $1 serves" "$status" running
    expect "boot $1: TERN_UPDATE_ROLLBACK" \
        "$(field TERN_UPDATE_ROLLBACK slot) $(field TERN_UPDATE_ROLLBACK reason) $(field TERN_UPDATE_ROLLBACK to)" "B $2 A"
    expect "boot $1: v1 from slot A" "$(field TERN_PKG_OK version) $(field TERN_PKG_OK slot)" "1.0.0 A"
    expect "v1 serves" "$($C "http://127.0.0.1:$port/hello")" v1
    expect "/status" "$(status_update 'd["update"]["active"], d["update"]["slots"][1]["bad"], d["update"]["last_rollback"]["slot"], d["update"]["last_rollback"]["reason"], d["workload"]["package"]["version"]')" \
        "A True B $2 1.0.0"
}

case $case_ in
crash|spin)
    want=page-fault
    [ "$case_" = spin ] && want=watchdog
    for n in $(seq $tries); do
        boot $n
        [ "$status" = running ] && ends $n      # the app may fail after TERN_READY
        expect "boot $n: tries B" "$(field TERN_UPDATE_TRY slot) $(field TERN_UPDATE_TRY tries_left)" "B $((tries - n))"
        expect "boot $n: the crash" "$(field TERN_APP_EXIT reason)" "crash:$want"
        expect "boot $n: QEMU's status (81 through isa-debug-exit)" "$status" 163
    done
    boot $((tries + 1))
    v1_back $((tries + 1)) tries-exhausted
    ;;
healthy)
    boot 1
    expect "boot 1 serves" "$status" running
    expect "boot 1: tries B" "$(field TERN_UPDATE_TRY slot)" B
    wait_for_marker "$out" '^TERN_UPDATE_CONFIRMED slot=B' 60 "$pid"
    expect "TERN_UPDATE_CONFIRMED" "$(field TERN_UPDATE_CONFIRMED version) $(field TERN_UPDATE_CONFIRMED trial)" "2.0.0 1"
    expect "v2 serves" "$($C "http://127.0.0.1:$port/hello")" v2
    expect "/status" "$(status_update 'd["update"]["active"], d["update"]["pending"], d["update"]["confirmed"], d["update"]["last_rollback"], d["workload"]["package"]["version"]')" \
        "B - True None 2.0.0"
    ;;
unhealthy)
    boot 1
    expect "boot 1: tries B" "$(field TERN_UPDATE_TRY slot) $(field TERN_UPDATE_TRY tries_left)" "B 1"
    ends 1
    expect "boot 1: TERN_UPDATE_FAILED" "$(field TERN_UPDATE_FAILED slot) $(field TERN_UPDATE_FAILED reason) $(field TERN_UPDATE_FAILED code)" \
        "B unhealthy 82"
    grep -q '^reset: ' "$out" || fail "boot 1 did not end in a reset ($(tail -3 "$out"))"
    expect "boot 1: QEMU's status (a reset under -no-reboot)" "$status" 0
    boot 2
    v1_back 2 unhealthy
    ;;
endpoint)
    boot 1
    expect "boot 1 serves v1" "$($C "http://127.0.0.1:$port/hello")" v1
    U="http://127.0.0.1:$port/tern/update"
    expect "PUT without the token: 401" \
        "$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$tmp/v2.tpk" "$U")" 401
    expect "PUT v2 with the token: 202" \
        "$($C -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $token" --data-binary @"$tmp/v2.tpk" "$U")" 202
    ends 1
    expect "boot 1: TERN_UPDATE_STAGED" "$(field TERN_UPDATE_STAGED slot) $(field TERN_UPDATE_STAGED version)" "B 2.0.0"
    grep -q '^reset: ' "$out" || fail "boot 1 did not end in a reset ($(tail -3 "$out"))"
    boot 2
    expect "boot 2 serves" "$status" running
    expect "boot 2: tries B" "$(field TERN_UPDATE_TRY slot)" B
    wait_for_marker "$out" '^TERN_UPDATE_CONFIRMED slot=B' 60 "$pid"
    expect "v2 serves" "$($C "http://127.0.0.1:$port/hello")" v2
    expect "/status" "$(status_update 'd["update"]["active"], d["update"]["confirmed"], d["update"]["endpoint"]["path"], d["workload"]["package"]["version"]')" \
        "B True /tern/update 2.0.0"
    ;;
esac
echo "PASS: $case_"
