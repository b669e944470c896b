#!/usr/bin/env bash
# Boots Tern's own disk image (scripts/make-image.sh) under QEMU + OVMF
# with virtio devices and checks what it serves and how it ends.
#
# usage: serve.sh CASE BUILD_DIR SOURCE_DIR
#   modern  virtio 1.x: TERN_DISK_OK, TERN_NET_UP ip=10.0.2.15/24 via=dhcp,
#           TERN_READY http=80; curl /healthz (ok), /status (backend
#           baremetal), / (the default index.html); ACPI power button
#           (QMP system_powerdown) -> orderly halt, status 1 (code 0)
#   legacy  the same with disable-modern=on (virtio 0.9.5 transport)
#   nodisk  no virtio-blk (booted from an ESP directory): "no disk" message,
#           status 7
#   nonic   the image without a NIC: "no network device" message, status 13
#   s5      modern, without isa-debug-exit, with log=warn: /healthz answers
#           and no info line (access lines included) reaches serial while
#           the markers do; the power button ends in ACPI S5
#           ("acpi: entering S5"), QEMU exits with status 0
#   reboot  q35 (FADT reset register), reboot=1: the power button ends in
#           "acpi: reset", and -no-reboot makes QEMU exit with status 0
#   badesp  booted from an ESP directory with a second disk whose ESP lacks
#           EFI/BOOT/BOOTX64.EFI: "not a Tern image", status 11
#   baddata the image with two files of its data partition cross-linked:
#           the data volume's whole-volume check refuses it, status 11
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
. "$src/tests/integration/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"
command -v curl >/dev/null || fail "curl not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-serve-test.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/serial.log
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" >/dev/null


qmp() { qmp_send "$tmp/qmp" "$1"; }

expect_status() {
    local want=$1 status=0
    wait "$pid" || status=$?
    pid=
    if [ "$status" -ne "$want" ]; then
        cat "$out" >&2
        fail "QEMU exit status $status, expected $want"
    fi
}

run() {
    "$src/scripts/run-qemu.sh" "$build" "$@" </dev/null >"$out" 2>&1 &
    pid=$!
}

case $case_ in
    modern|legacy)
        port=$(free_port)
        extra=()
        [ "$case_" = legacy ] && extra=(--legacy)
        run --image "$tmp/tern.img" --net "$port" --rng "${extra[@]}" \
            -qmp "unix:$tmp/qmp,server=on,wait=off"
        wait_for_marker "$out" '^TERN_BOOT_OK backend=baremetal ' 100 "$pid"
        wait_for_marker "$out" '^TERN_DISK_OK disk=0 parts=2 part=1 fs=fat32 ' 30 "$pid"
        wait_for_marker "$out" '^TERN_READY http=80 files=disk' 30 "$pid"
        wait_for_marker "$out" '^TERN_NET_UP .*ip=10\.0\.2\.15/24 .*via=dhcp' 60 "$pid"
        transport=modern
        [ "$case_" = legacy ] && transport=legacy
        for d in net blk rng; do
            grep -aq "virtio-$d .* $transport transport" "$out" ||
                { cat "$out" >&2; fail "virtio-$d not started with the $transport transport"; }
        done
        # QEMU's user network offers no checksum offloads: these cases run
        # the path where the core computes every checksum (qemu_tap runs
        # the offloaded one)
        grep -aq 'virtio-net .*, no offloads' "$out" ||
            { cat "$out" >&2; fail "virtio-net on the user network is not on the no-offload path"; }
        body=$(curl -sS -m 20 "http://127.0.0.1:$port/healthz")
        [ "$body" = ok ] || fail "/healthz answered '$body'"
        curl -sS -m 20 "http://127.0.0.1:$port/status" | /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
a = d["addresses"][0]
assert d["backend"] == "baremetal" and a["ip"] == "10.0.2.15" and a["offloads"] == "", d
assert d["net"]["tx_csum_offloaded"] == 0 and d["net"]["rx_frames"] > 0, d' ||
            fail "/status: not backend baremetal with 10.0.2.15 and no offloads"
        curl -sS -m 20 "http://127.0.0.1:$port/" | grep -q '<h1>Tern</h1>' ||
            fail "/ is not the default index.html"
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 20 "http://127.0.0.1:$port/no-such-file")
        [ "$code" = 404 ] || fail "a missing file answered $code, not 404"
        qmp system_powerdown
        wait_for_marker "$out" '^TERN_HALT code=0' 30 "$pid"
        expect_status 1
        # The default console level (info) shows every response's access line.
        grep -aq '\] info http: GET /healthz 200 2$' <(tr -d '\r' <"$out") ||
            { cat "$out" >&2; fail "no access line for GET /healthz on serial"; }
        ;;
    s5|reboot)
        extra=(--no-debug-exit -fw_cfg "name=opt/tern/cmdline,string=log=warn")
        want='acpi: entering S5'
        if [ "$case_" = reboot ]; then
            extra=(-machine q35 -fw_cfg "name=opt/tern/cmdline,string=reboot=1")
            want='acpi: reset \(port 0xcf9'
        fi
        port=$(free_port)
        run --image "$tmp/tern.img" --net "$port" "${extra[@]}" \
            -qmp "unix:$tmp/qmp,server=on,wait=off"
        wait_for_marker "$out" '^TERN_READY http=80' 120 "$pid"
        if [ "$case_" = s5 ]; then
            body=$(curl -sS -m 20 "http://127.0.0.1:$port/healthz")
            [ "$body" = ok ] || fail "/healthz answered '$body' with log=warn"
        fi
        qmp system_powerdown
        wait_for_marker "$out" '^TERN_HALT code=0' 30 "$pid"
        wait_for_marker "$out" "$want" 30 "$pid"
        expect_status 0
        if [ "$case_" = s5 ]; then
            ! grep -a '\] info ' "$out" >&2 || fail "log=warn: info lines reached serial (above)"
            grep -aq '^TERN_BOOT_OK ' "$out" || fail "log=warn: the markers are missing"
        fi
        ;;
    nodisk)
        run --net "$(free_port)"
        wait_for_marker "$out" 'no disk \(virtio-blk\).*halting with code 3' 100 "$pid"
        expect_status 7
        ;;
    nonic)
        run --image "$tmp/tern.img"
        wait_for_marker "$out" '^TERN_DISK_OK disk=0 ' 100 "$pid"
        wait_for_marker "$out" 'no network device \(virtio-net\).*halting with code 6' 30 "$pid"
        expect_status 13
        ;;
    badesp)
        mkdir -p "$tmp/empty-esp" "$tmp/site"
        echo hi >"$tmp/site/index.html"
        "$build/tools/tern-mkimage" --output "$tmp/bad.img" --size 64 --esp "$tmp/empty-esp" \
            --data "$tmp/site" --quiet
        run --net "$(free_port)" -drive "if=none,id=bad,format=raw,file=$tmp/bad.img" \
            -device virtio-blk-pci,drive=bad
        wait_for_marker "$out" 'no EFI/BOOT/BOOTX64.EFI: not a Tern image.*halting with code 5' 100 "$pid"
        expect_status 11
        ;;
    baddata)
        mkdir -p "$tmp/site2"
        echo one >"$tmp/site2/a.html"
        echo two >"$tmp/site2/b.html"
        "$src/scripts/make-image.sh" "$build" "$tmp/bad.img" "$tmp/site2" >/dev/null
        python3 "$src/tests/qemu/crosslink.py" "$tmp/bad.img"
        run --image "$tmp/bad.img" --net "$(free_port)"
        wait_for_marker "$out" 'partition 2 fails its check: cross-linked-cluster' 100 "$pid"
        wait_for_marker "$out" 'no data partition with a FAT volume.*halting with code 5' 100 "$pid"
        expect_status 11
        ;;
    *) fail "unknown case $case_" ;;
esac
grep -a '^TERN_' "$out" | tr -d '\r'
echo "PASS: $case_"
