#!/usr/bin/env bash
# The workload on bare metal: the same app files tern-linux runs, loaded by
# the kernel from its disk, under QEMU + OVMF (TCG, QEMU's default CPU
# model, virtio-rng).
#
# usage: workload.sh CASE BUILD_DIR SOURCE_DIR
#   hello  an image with no /tern/manifest.json: the built-in hello runs;
#          TERN_APP_LOAD's sha256 is build/apps/hello.elf's; GET /hello
#   kv     the kv workload on the ESP (fixtures/manifests/kv.json and
#          build/apps/kv.elf): sha256 is kv.elf's; PUT, GET and DELETE keys;
#          an orderly power-off, a second boot of the same disk still has
#          the keys; the data partition passes fsck.fat -n afterwards
#   kvreset  kv with writers PUTting versioned values when QEMU resets the
#          machine (QMP system_reset): after the next boot every key holds
#          exactly one value that was written to it (old or new, never
#          torn), and the data partition is fsck-clean after a power-off
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
. "$src/tests/integration/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"
for t in curl sgdisk fsck.fat; do command -v $t >/dev/null || fail "$t not installed"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-workload-test.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/serial.log
C="curl -sS --max-time 20"
expect() { [ "$2" = "$3" ] || { cat "$out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }
qmp() { qmp_send "$tmp/qmp" "$1"; }
# boot: starts QEMU on the image and waits for TERN_READY with the app.
boot() {
    port=$(free_port)
    rm -f "$tmp/qmp"
    "$src/scripts/run-qemu.sh" "$build" --image "$tmp/tern.img" --net "$port" --rng \
        -qmp "unix:$tmp/qmp,server=on,wait=off" </dev/null >"$out" 2>&1 &
    pid=$!
    wait_for_marker "$out" '^TERN_READY http=80 .*app=' 120 "$pid"
    H="http://127.0.0.1:$port"
}
# power_off: the ACPI power button; the app's volume is synced on the way down.
power_off() {
    qmp system_powerdown
    local status=0
    wait "$pid" || status=$?
    pid=
    [ "$status" -eq 1 ] || { cat "$out" >&2; fail "QEMU exit status $status after power-off, expected 1"; }
}
# field MARKER KEY: marker_field without the serial line's CR.
field() { marker_field "$out" "$1" "$2" | tr -d '\r'; }
app_sha() { field TERN_APP_LOAD sha256; }

case $case_ in
    hello)
        "$src/scripts/make-image.sh" "$build" "$tmp/tern.img" >/dev/null
        boot
        expect "built-in workload" "$(field TERN_MANIFEST_OK source)" built-in
        expect "the same hello.elf as tern-linux" "$(app_sha)" \
            "$(sha256sum "$build/apps/hello.elf" | cut -d' ' -f1)"
        expect "GET /hello" "$($C $H/hello)" "Hello from Tern"
        expect "GET /healthz (the app's)" "$($C $H/healthz)" "ok"
        power_off
        ;;
    kv)
        "$src/scripts/make-image.sh" "$build" "$tmp/tern.img" "" 64 "$build/apps/kv.tpk" >/dev/null
        boot
        expect "workload from the disk: slot A's signed package" "$(field TERN_MANIFEST_OK source)" slot-a
        expect "the package's signer" "$(field TERN_PKG_OK key)" 8008d48924e4f4bc
        expect "slot A" "$(field TERN_PKG_OK slot)" A
        expect "the same kv.elf as tern-linux" "$(app_sha)" \
            "$(sha256sum "$build/apps/kv.elf" | cut -d' ' -f1)"
        expect "PUT a new key" "$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary 'first value' $H/kv/alpha)" 201
        expect "PUT replaces" "$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary 'second value' $H/kv/alpha)" 200
        head -c 40000 /dev/urandom >"$tmp/blob"
        expect "PUT 40 KB" "$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$tmp/blob" $H/kv/blob)" 201
        expect "PUT then DELETE" "$($C -o /dev/null -w '%{http_code}' -X PUT -d gone $H/kv/temp; $C -o /dev/null -w '%{http_code}' -X DELETE $H/kv/temp)" "201204"
        expect "GET" "$($C $H/kv/alpha)" "second value"
        expect "list" "$($C $H/kv/)" '{"keys":["alpha","blob"]}'
        expect "bad key refused" "$($C -o /dev/null -w '%{http_code}' $H/kv/a.b)" 400
        power_off
        boot
        expect "after a reboot: the value" "$($C $H/kv/alpha)" "second value"
        $C $H/kv/blob -o "$tmp/blob2"
        cmp -s "$tmp/blob" "$tmp/blob2" || fail "the 40 KB value differs after a reboot"
        echo "ok - after a reboot: the 40 KB value"
        expect "after a reboot: the deleted key" "$($C -o /dev/null -w '%{http_code}' $H/kv/temp)" 404
        power_off
        first=$(sgdisk -i 2 "$tmp/tern.img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
        last=$(sgdisk -i 2 "$tmp/tern.img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
        dd if="$tmp/tern.img" of="$tmp/data.img" bs=512 skip="$first" count=$((last - first + 1)) status=none
        fsck.fat -n "$tmp/data.img" >"$tmp/fsck" 2>&1 || { cat "$tmp/fsck" >&2; fail "fsck.fat -n on the data partition"; }
        echo "ok - the data partition is fsck-clean"
        ;;
    kvreset)
        "$src/scripts/make-image.sh" "$build" "$tmp/tern.img" "" 64 "$build/apps/kv.tpk" >/dev/null
        boot
        # value KEY N: the N-th value written to KEY (its length varies)
        value() { printf '%s-v%05d-%0*d' "$1" "$2" $(( ($2 % 5) * 700 + 1 )) 0; }
        for k in a b c; do
            ( n=0; while [ $n -lt 200 ]; do
                  n=$((n + 1)); value "$k" $n >"$tmp/v.$k"
                  curl -s --max-time 3 -o /dev/null -X PUT --data-binary @"$tmp/v.$k" "$H/kv/$k"
                  [ $? = 7 ] && break
              done ) &
        done
        sleep 3
        qmp system_reset                  # -no-reboot: QEMU ends here, mid-write
        status=0
        wait "$pid" || status=$?
        pid=
        wait                              # the writers stop once the forward is gone
        boot
        written=0
        for k in a b c; do
            got=$($C -w '|%{http_code}' "$H/kv/$k")
            code=${got##*|} body=${got%|*}
            [ "$code" = 404 ] && continue
            [ "$code" = 200 ] || fail "key $k: status $code after the reset"
            n=$(printf '%s' "$body" | sed -n 's/^'"$k"'-v\([0-9]\{5\}\)-.*/\1/p')
            [ -n "$n" ] && [ "$body" = "$(value "$k" $((10#$n)))" ] || fail "key $k: a torn value after the reset"
            written=$((written + 10#$n))
        done
        [ "$written" -gt 3 ] || fail "the writers wrote almost nothing before the reset"
        echo "ok - after a reset mid-write: every key old or new ($written writes had landed)"
        power_off
        first=$(sgdisk -i 2 "$tmp/tern.img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
        last=$(sgdisk -i 2 "$tmp/tern.img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
        dd if="$tmp/tern.img" of="$tmp/data.img" bs=512 skip="$first" count=$((last - first + 1)) status=none
        fsck.fat -n "$tmp/data.img" >"$tmp/fsck" 2>&1 || { cat "$tmp/fsck" >&2; fail "fsck.fat -n after the reset"; }
        echo "ok - the data partition is fsck-clean"
        ;;
    *) fail "unknown case $case_" ;;
esac
echo "workload $case_: all passed"
