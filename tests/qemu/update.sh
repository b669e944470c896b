#!/usr/bin/env bash
# An A/B update on bare metal (QEMU + OVMF, TCG): v1 (hello 1.0.0, greeting
# "v1") in slot A by make-image, a v2 that crashes at start (the fault app,
# FAULT_EARLY=1) staged into slot B by tern-pkg install with 2 trial boots.
# This script is the machine's power supply: it boots the same disk again
# each time QEMU ends (the crash leaves through isa-debug-exit with 81,
# status 163). Boots 1 and 2 try B (TERN_UPDATE_TRY, the crash marker);
# boot 3 rolls it back (TERN_UPDATE_ROLLBACK reason=tries-exhausted to=A)
# and v1 serves again; /status shows B bad and the rollback.
# usage: update.sh BUILD_DIR SOURCE_DIR FAULT_ELF
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
fault=$3
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

# package NAME VERSION ELF ENV_JSON: a signed package $tmp/NAME.tpk
package() {
    mkdir -p "$tmp/$1"
    cat >"$tmp/$1/manifest.json" <<JSON
{ "tern_manifest": 1, "name": "web", "version": "$2",
  "app": { "path": "app.elf", "env": $4 },
  "endpoints": [ { "name": "web", "proto": "http", "port": 80 } ],
  "resources": { "memory_mib": 4 }, "health": { "http": "/healthz", "port": 80 } }
JSON
    "$tpk" build --manifest "$tmp/$1/manifest.json" --file "app.elf=$3" -o "$tmp/$1/u.tpk" >/dev/null
    "$tpk" sign --key "$key" -o "$tmp/$1.tpk" "$tmp/$1/u.tpk" >/dev/null
}
package v1 1.0.0 "$build/apps/hello.elf" '{ "GREETING": "v1" }'
package v2 2.0.0 "$fault" '{ "FAULT": "null", "FAULT_EARLY": "1" }'
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" "" 64 "$tmp/v1.tpk" >/dev/null
"$tpk" install --tries 2 "$tmp/tern.img" "$tmp/v2.tpk" 2>/dev/null | grep -q 'slot B .*pending' ||
    fail "v2 not staged"

# boot N: one power-on of the disk; sets $status when QEMU ends by itself,
# or returns with QEMU running once v1 serves.
port=$(free_port)
boot() {
    "$src/scripts/run-qemu.sh" "$build" --image "$tmp/tern.img" --net "$port" --rng \
        </dev/null >"$out" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
        if ! kill -0 "$pid" 2>/dev/null; then
            status=0
            wait "$pid" || status=$?
            pid=
            return
        fi
        grep -q '^TERN_READY ' "$out" && { status=running; return; }
        sleep 0.2
    done
    fail "boot $1: neither an end nor TERN_READY in 120 s"
}
for n in 1 2; do
    boot $n
    expect "boot $n: tries B" "$(field TERN_UPDATE_TRY slot) $(field TERN_UPDATE_TRY tries_left)" "B $((2 - n))"
    expect "boot $n: the crash" "$(field TERN_APP_EXIT reason)" crash:page-fault
    expect "boot $n: QEMU's status (81 through isa-debug-exit)" "$status" 163
done
boot 3
expect "boot 3 serves" "$status" running
expect "boot 3: TERN_UPDATE_ROLLBACK" "$(field TERN_UPDATE_ROLLBACK slot) $(field TERN_UPDATE_ROLLBACK reason) $(field TERN_UPDATE_ROLLBACK to)" \
    "B tries-exhausted A"
expect "boot 3: v1 from slot A" "$(field TERN_PKG_OK version) $(field TERN_PKG_OK slot)" "1.0.0 A"
expect "v1 serves" "$($C "http://127.0.0.1:$port/hello")" v1
expect "/status" "$($C "http://127.0.0.1:$port/status" | python3 -c 'import json,sys; d=json.load(sys.stdin)["update"]; print(d["active"], d["slots"][1]["bad"], d["last_rollback"]["slot"], d["last_rollback"]["reason"])')" \
    "A True B tries-exhausted"
echo "PASS"
