#!/usr/bin/env bash
# The CPU and machine matrix: Tern's one image (made once by meson,
# tests/qemu/meson.build) booted under QEMU's TCG on CPU models old and new,
# on the pc (i440fx) and q35 machines, with 1 and 2 vCPUs, the smallest
# memory that serves and a large one. Each case boots, serves /healthz
# and halts in order through the ACPI power button, or halts with the
# documented code for what it lacks. The table is in docs/baremetal.md.
#
# usage: matrix.sh CASE BUILD_DIR SOURCE_DIR IMAGE
#   CASE       cpu      machine vCPUs memory virtio-rng  expects
#   default    (none)   pc      1     256M   yes         serve; entropy from virtio-rng alone
#                                                        (qemu64: no RDRAND/RDSEED)
#   norng      (none)   pc      1     256M   no          halt code 9 (no entropy source), status 19
#   deadrng    (none)   pc      1     256M   silent      halt code 9: the only source (a virtio-rng
#                                                        whose backend never answers) fails its
#                                                        first read (1 s limit), status 19
#   core2duo   core2duo q35     1     60M    yes         serve (no RDRAND/RDSEED, x2APIC, 1 GiB
#                                                        pages, invariant TSC; least memory)
#   westmere   Westmere pc      2     256M   yes         serve (rdrand absent, 2 vCPUs)
#   skylake    Skylake-Client q35 2   256M   no          serve; RDRAND+RDSEED alone (no 1 GiB pages)
#   epyc       EPYC     q35     1     8G     yes         serve (AMD, no x2APIC; RAM above 4 GiB)
#   icelake    Icelake-Server pc 2    4G     no          serve; RDRAND alone... (1 GiB pages, LA57)
#   opteron    Opteron_G3 pc    1     60M    yes         serve (old AMD, pc at the least memory)
#   nonx       qemu64,-nx pc    1     256M   yes         halt code 10, status 21: no NX (W^X
#                                                        needs it), said before the page tables
#   tiny       (max)    pc      1     52M    yes         halt code 8, status 17: the heap (1 MiB
#                                                        under OVMF) cannot hold the HTTP pool
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
image=$4
. "$src/tests/integration/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"
command -v curl >/dev/null || fail "curl not installed"
[ -f "$image" ] || fail "image $image not found (meson builds it for the matrix)"

# cpu machine vcpus memory rng expect want_rng
case $case_ in
    default)  set -- default        pc   1 256M rng   serve  'virtio-rng' ;;
    norng)    set -- default        pc   1 256M norng halt9  '' ;;
    deadrng)  set -- default        pc   1 256M dead  dead9  '' ;;
    core2duo) set -- core2duo       q35  1 60M  rng   serve  'virtio-rng' ;;
    westmere) set -- Westmere       pc   2 256M rng   serve  'virtio-rng' ;;
    skylake)  set -- Skylake-Client q35  2 256M norng serve  'rdrand' ;;
    epyc)     set -- EPYC           q35  1 8G   rng   serve  'rdrand\+virtio-rng' ;;
    icelake)  set -- Icelake-Server pc   2 4G   norng serve  'rdrand' ;;
    opteron)  set -- Opteron_G3     pc   1 60M  rng   serve  'virtio-rng' ;;
    tiny)     set -- max            pc   1 52M  rng   halt8  'rdrand\+virtio-rng' ;;
    nonx)     set -- qemu64,-nx     pc   1 256M rng   halt10 '' ;;
    *) fail "unknown case $case_" ;;
esac
cpu=$1 machine=$2 vcpus=$3 mem=$4 rng=$5 expect=$6 want_rng=$7

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-matrix.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/serial.log


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

port=$(free_port)
args=(--image "$image" --net "$port" --cpu "$cpu" --smp "$vcpus" --mem "$mem")
[ "$rng" = rng ] && args+=(--rng)
# A virtio-rng fed by an EGD backend on a null chardev: requests are
# taken and never answered.
[ "$rng" = dead ] && args+=(-chardev null,id=egd0 -object rng-egd,id=rng0,chardev=egd0
                            -device virtio-rng-pci,rng=rng0)
t0=$(date +%s%N)
# -snapshot: the one image is shared by every case and never written.
"$src/scripts/run-qemu.sh" "$build" "${args[@]}" -machine "$machine" -snapshot \
    -qmp "unix:$tmp/qmp,server=on,wait=off" </dev/null >"$out" 2>&1 &
pid=$!

[ "$expect" = halt10 ] || wait_for_marker "$out" '^TERN_BOOT_OK backend=baremetal ' 100 "$pid"
case $expect in
    serve)
        wait_for_marker "$out" '^TERN_READY http=80 files=disk' 60 "$pid"
        wait_for_marker "$out" '^TERN_NET_UP .*ip=10\.0\.2\.15/24 .*via=dhcp' 60 "$pid"
        body=$(curl -sS -m 20 "http://127.0.0.1:$port/healthz")
        [ "$body" = ok ] || fail "/healthz answered '$body'"
        curl -sS -m 20 "http://127.0.0.1:$port/status" | /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["backend"] == "baremetal" and d["net"]["entropy_failures"] == 0, d' ||
            fail "/status: not baremetal, or entropy draws refused"
        ready_s=$(( ($(date +%s%N) - t0) / 1000000 ))
        grep -aEq "metal: rng $want_rng \(read ok\)" "$out" ||
            { cat "$out" >&2; fail "entropy not from '$want_rng' (rng line above)"; }
        qmp system_powerdown
        wait_for_marker "$out" '^TERN_HALT code=0' 30 "$pid"
        expect_status 1
        ;;
    halt8)
        wait_for_marker "$out" 'error metal: cannot serve HTTP on port 80: halting with code 8' 60 "$pid"
        grep -aq 'error http: no memory for the HTTP connection pool: enomem' "$out" ||
            fail "code 8 without saying the HTTP pool had no memory"
        expect_status 17
        ready_s=$(( ($(date +%s%N) - t0) / 1000000 ))
        grep -aEq "metal: rng $want_rng \(read ok\)" "$out" || fail "entropy not from '$want_rng'"
        ! grep -aq '^TERN_READY' "$out" || fail "served at $mem"
        ;;
    dead9)
        wait_for_marker "$out" 'error metal: entropy source virtio-rng failed its first read: halting with code 9' 60 "$pid"
        expect_status 19
        ready_s=$(( ($(date +%s%N) - t0) / 1000000 ))
        grep -aq 'metal: rng virtio-rng (read failed)' "$out" || fail "no 'read failed' line"
        ! grep -aq '^TERN_READY' "$out" || fail "served with a dead entropy source"
        ;;
    halt10)
        wait_for_marker "$out" '^error metal: the CPU has no NX \(execute-disable, CPUID 0x80000001 EDX bit 20\), which W\^X needs: halting with code 10' 100 "$pid"
        expect_status 21
        ready_s=$(( ($(date +%s%N) - t0) / 1000000 ))
        ! grep -aq '^TERN_BOOT_OK' "$out" || fail "the kernel went on without NX"
        ;;
    halt9)
        wait_for_marker "$out" 'error metal: no entropy source \(the CPU has neither RDRAND nor RDSEED, and there is no virtio-rng\): halting with code 9' 60 "$pid"
        expect_status 19
        ready_s=$(( ($(date +%s%N) - t0) / 1000000 ))
        ! grep -aq '^TERN_READY' "$out" || fail "served without an entropy source"
        ;;
esac
! grep -a '^TERN_PANIC' "$out" >&2 || { cat "$out" >&2; fail "a panic (above)"; }
usable=$(tr -d '\r' <"$out" | sed -n 's/.*metal: memory \([0-9]*\) MiB usable.*/\1/p')
boot_ms=$(tr -d '\r' <"$out" | marker_field /dev/stdin TERN_BOOT_OK boot_ms || true)
grep -a '^TERN_\|metal: rng\|metal: memory\|metal: tsc\|halting\|^qemu-system' "$out" | tr -d '\r'
echo "matrix $case_: cpu=$cpu machine=$machine smp=$vcpus mem=$mem $rng -> $expect;" \
    "boot_ms=$boot_ms, ${usable:-?} MiB usable, ${ready_s} ms of host time"
echo "PASS: $case_"
