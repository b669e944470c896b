#!/usr/bin/env bash
# Boots Tern's PVH kernel (tern-microvm.elf) on QEMU's microvm machine
# (TCG, QEMU's default CPU model, no firmware of Tern's choosing, virtio
# on MMIO) through scripts/run-microvm.sh and checks the serial markers
# and QEMU's exit status: the same markers and halt codes as the UEFI
# boot (serve.sh, boot.sh).
#
# usage: microvm.sh CASE BUILD_DIR SOURCE_DIR
#   modern  virtio-mmio version 2 (force-legacy=false): the image holds the
#           hello workload's signed package in slot A (as make image does:
#           TERN_PKG_OK slot=A, TERN_MANIFEST_OK source=slot-a, the app's
#           sha256 is build/apps/hello.elf's); TERN_DISK_OK,
#           TERN_NET_UP ip=10.0.2.15/24 via=dhcp, TERN_READY; net, blk
#           and rng on the modern transport with I/O APIC interrupts;
#           curl /healthz (ok), / (the data partition's index.html),
#           /status (backend baremetal); QMP system_powerdown (the ACPI
#           GED's power-down event) -> TERN_HALT code=0, status 1
#   legacy  the same with the version 1 layout (force-legacy=true)
#   static  ip=10.0.2.15/24 gw=10.0.2.2 on the kernel command line:
#           TERN_NET_UP via=static, /healthz
#   cmdline -M microvm,acpi=off: no DSDT, so the devices come from the
#           virtio_mmio.device=SIZE@BASE:IRQ tokens QEMU appends to the
#           command line (polled: no MADT); /healthz
#   nodisk  no virtio-blk: "no disk (virtio-blk)... halting with code 3", status 7
#   nonic   no virtio-net: "no network device... halting with code 6", status 13
#   lowmem  -m 6M: the NIC is there but its rings do not fit ("virtio-net
#           ... not started: no-memory"): the halt says a device was found
#           and none started, not that there is none; code 6, status 13
#   fault   fault=ud: TERN_PANIC reason=exception vector=6 rip=0x... and
#           the register dump, status 71
#   clock   halt=7 delay_ms=1500: the TSC calibrated by PIT channel 0
#           (microvm has no port 0x61 behind channel 2): refined over
#           >= 20 ms, 50 ms of PIT read as 50 ms +- 0.5 %, the action at
#           >= 1500 ms on the guest clock, status 15
#   kbdreset -M microvm,acpi=off, without isa-debug-exit, halt=3: no ACPI
#           S5 to enter, so the PVH boot powers off with a reset (the 8042,
#           which microvm lacks, then a triple fault; Firecracker ends a VM
#           on either): "power off: no ACPI S5: a reset", QEMU
#           (-no-reboot) exits with status 0
#   nopit   -M microvm,pit=off, halt=4: no PIT answers (its status reads
#           all-ones): found at the first read, the TSC rate a logged guess
#           of 1 GHz instead of 100 million spinning reads; status 9
#   s5      without isa-debug-exit: the power button ends in ACPI S5
#           through the FADT's sleep control register
#           ("acpi: entering S5 (sleep control ..."), QEMU status 0
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
. "$src/tests/integration/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
command -v curl >/dev/null || fail "curl not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-microvm-test.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/serial.log
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" "" 64 "$build/apps/hello.tpk" >/dev/null

run() {
    "$src/scripts/run-microvm.sh" "$build" "$@" </dev/null >"$out" 2>&1 &
    pid=$!
}
expect_status() {
    local want=$1 status=0
    wait "$pid" || status=$?
    pid=
    [ "$status" -eq "$want" ] || { cat "$out" >&2; fail "QEMU exit status $status, expected $want"; }
}
expect() { [ "$2" = "$3" ] || { cat "$out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }
field() { marker_field "$out" "$1" "$2" | tr -d '\r'; }
C="curl -sS -m 20"

case $case_ in
    modern|legacy|s5)
        port=$(free_port)
        transport=$case_
        [ "$case_" = s5 ] && transport=modern
        extra=()
        [ "$case_" = s5 ] && extra=(--no-debug-exit)
        run --image "$tmp/tern.img" --net "$port" --rng "--$transport" "${extra[@]}" \
            -qmp "unix:$tmp/qmp,server=on,wait=off"
        wait_for_marker "$out" '^TERN_BOOT_OK backend=baremetal ' 100 "$pid"
        wait_for_marker "$out" '^TERN_DISK_OK disk=0 parts=2 part=1 fs=fat32 ' 30 "$pid"
        wait_for_marker "$out" '^TERN_READY http=80 files=disk app=hello' 60 "$pid"
        wait_for_marker "$out" '^TERN_NET_UP .*ip=10\.0\.2\.15/24 .*via=dhcp' 60 "$pid"
        for d in net blk rng; do
            grep -aEq "virtio-$d mmio@0x[0-9a-f]+ $transport transport, .*gsi [0-9]+ \(i/o apic\)" "$out" ||
                { cat "$out" >&2; fail "virtio-$d not on the $transport MMIO transport with an I/O APIC interrupt"; }
        done
        grep -aq 'metal: .*ready at [0-9]* ms after PVH entry' "$out" || { cat "$out" >&2; fail "not a PVH boot"; }
        expect "the workload from the disk: slot A's signed package" "$(field TERN_MANIFEST_OK source)" slot-a
        expect "slot A" "$(field TERN_PKG_OK slot)" A
        expect "the same hello.elf as tern-linux" "$(field TERN_APP_LOAD sha256)" \
            "$(sha256sum "$build/apps/hello.elf" | cut -d' ' -f1)"
        H="http://127.0.0.1:$port"
        expect "GET /healthz" "$($C $H/healthz)" ok
        $C "$H/" | grep -q '<h1>Tern</h1>' || fail "/ is not the data partition's index.html"
        echo "ok - a static file from the data partition"
        $C "$H/status" | /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["backend"] == "baremetal" and d["addresses"][0]["ip"] == "10.0.2.15", d' ||
            fail "/status: not backend baremetal with 10.0.2.15"
        qmp_send "$tmp/qmp" system_powerdown
        wait_for_marker "$out" '^TERN_HALT code=0' 30 "$pid"
        if [ "$case_" = s5 ]; then
            wait_for_marker "$out" 'acpi: entering S5 \(sleep control 0x[0-9a-f]+, SLP_TYP 5\)' 30 "$pid"
            expect_status 0
        else
            expect_status 1
        fi
        ;;
    static)
        port=$(free_port)
        run --image "$tmp/tern.img" --net "$port" --rng --append "ip=10.0.2.15/24 gw=10.0.2.2"
        wait_for_marker "$out" '^TERN_NET_UP .*ip=10\.0\.2\.15/24 gw=10\.0\.2\.2 .*via=static' 100 "$pid"
        wait_for_marker "$out" '^TERN_READY http=80 ' 60 "$pid"
        expect "GET /healthz" "$($C "http://127.0.0.1:$port/healthz")" ok
        ;;
    cmdline)
        port=$(free_port)
        run --no-acpi --image "$tmp/tern.img" --net "$port" --rng
        wait_for_marker "$out" '^TERN_READY http=80 ' 100 "$pid"
        grep -aEq 'cmdline ".*virtio_mmio\.device=512@0xfeb0[0-9a-f]+:[0-9]+' "$out" ||
            { cat "$out" >&2; fail "QEMU appended no virtio_mmio.device= (auto-kernel-cmdline)"; }
        for d in net blk rng; do
            grep -aEq "virtio-$d mmio@0x[0-9a-f]+ legacy transport, .*polled" "$out" ||
                { cat "$out" >&2; fail "virtio-$d not found from the command line"; }
        done
        grep -aq 'acpi rsdp 0x0 ' "$out" || { cat "$out" >&2; fail "an RSDP on a machine without ACPI"; }
        expect "GET /healthz" "$($C "http://127.0.0.1:$port/healthz")" ok
        ;;
    nopit)
        run --rng --append "halt=4" -M microvm,pit=off
        wait_for_marker "$out" '^TERN_HALT code=4([^0-9]|$)' 60 "$pid"
        grep -aq 'warn metal: no PIT answers and CPUID gives no TSC rate: time runs at a guessed 1 GHz' "$out" ||
            { cat "$out" >&2; fail "no warning that the TSC rate is a guess"; }
        expect_status 9
        ;;
    kbdreset)
        run --no-acpi --no-debug-exit --rng --append "halt=3"
        wait_for_marker "$out" '^TERN_HALT code=3([^0-9]|$)' 100 "$pid"
        wait_for_marker "$out" 'power off: no ACPI S5: a reset' 30 "$pid"
        expect_status 0
        ;;
    nodisk)
        run --net "$(free_port)" --rng
        wait_for_marker "$out" 'no disk \(virtio-blk\).*halting with code 3' 100 "$pid"
        expect_status 7
        ;;
    nonic)
        run --image "$tmp/tern.img" --rng
        wait_for_marker "$out" '^TERN_DISK_OK disk=0 ' 100 "$pid"
        wait_for_marker "$out" 'no network device \(virtio-net\).*halting with code 6' 30 "$pid"
        expect_status 13
        ;;
    lowmem)
        run --image "$tmp/tern.img" --net "$(free_port)" --rng --mem 6M
        wait_for_marker "$out" 'virtio-net mmio@0x[0-9a-f]+ not started: no-memory' 100 "$pid"
        wait_for_marker "$out" 'no working network device \(virtio-net: 1 found, none started\).*halting with code 6' 30 "$pid"
        expect_status 13
        ;;
    fault)
        run --rng --append "fault=ud"
        wait_for_marker "$out" '^TERN_PANIC reason=exception vector=6 rip=0x[0-9a-f]+ err=0x0 name=#UD' 100 "$pid"
        grep -aq '^  rax=' "$out" || fail "no register dump after the panic marker"
        grep -aq '^  backtrace: 0x' "$out" || fail "no backtrace in the dump"
        expect_status 71
        ;;
    clock)
        run --rng --append "halt=7 delay_ms=1500"
        wait_for_marker "$out" '^TERN_HALT code=7([^0-9]|$)' 100 "$pid"
        at_ms=$(sed -n 's/.*test action at \([0-9]*\) ms.*/\1/p' "$out" | head -1)
        [ -n "$at_ms" ] && [ "$at_ms" -ge 1500 ] || { cat "$out" >&2; fail "the action came at '$at_ms' ms, before 1500"; }
        grep -aq 'clock refined over \([2-9][0-9]\|[1-9][0-9][0-9]\) ms of PIT' "$out" ||
            { cat "$out" >&2; fail "the clock was not refined over a PIT window of >= 20 ms"; }
        check_us=$(sed -n 's/.*clock check: 50 ms of PIT = \([0-9]*\) us.*/\1/p' "$out" | tr -d '\r')
        [ -n "$check_us" ] && [ "$check_us" -ge 49750 ] && [ "$check_us" -le 50250 ] ||
            { cat "$out" >&2; fail "calibrated clock off by more than 0.5 %: 50 ms of PIT read as '$check_us' us"; }
        echo "50 ms of PIT read as $check_us us; $(grep -a 'clock refined' "$out" | tr -d '\r')"
        expect_status 15
        ;;
    *) fail "unknown case $case_" ;;
esac
grep -a '^TERN_' "$out" | tr -d '\r'
echo "PASS: microvm $case_"
