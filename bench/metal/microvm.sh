#!/usr/bin/env bash
# Tern on QEMU's microvm machine (PVH entry, virtio-mmio) against Tern's
# UEFI image on pc + OVMF, under the same QEMU TCG settings
# (docs/performance.md, docs/microvm.md):
#   - QEMU start -> first HTTP 200 from /healthz, host wall time;
#   - the entry (PVH or UEFI) -> TERN_READY on the guest clock;
# with a static address (ip=10.0.2.15/24 on the command line: fw_cfg for
# UEFI, -append for microvm) and with DHCP; the same disk image, the same
# memory (256M memfd), restricted user network, virtio-rng, QEMU's
# default CPU model on both (qemu64: the rng is the entropy source).
# Each run also prints the kernel's two "boot stages (us)" lines.
# The comparison with a Debian Linux guest on the same microvm machine is
# `MACHINE=microvm bench/metal/linux_guest.sh` (make bench-microvm runs both).
# usage: bench/metal/microvm.sh BUILD_DIR [RUNS]   (default 1 run per case)
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-1}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/bench/metal/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-microvm.XXXXXX")
trap 'bench_stop; rm -rf "$tmp"' EXIT
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" >/dev/null
port=$(bench_free_port)
static="ip=10.0.2.15/24 gw=10.0.2.2"

# boot MACHINE MODE: prints "ready_ms wall_ms seen_ms cpu_ms" or "fail" (seen_ms:
# QEMU start -> the ready lines on the serial log, host time; cpu_ms:
# QEMU's CPU time by the first 200)
boot() {
    local machine=$1 mode=$2 out=$tmp/serial.log args=()
    cp "$tmp/tern.img" "$tmp/run.img"
    if [ "$machine" = microvm ]; then
        [ "$mode" = static ] && args=(--append "$static")
        set -- "$src/scripts/run-microvm.sh" "$build" "${args[@]}"
    else
        [ "$mode" = static ] && args=(-fw_cfg "name=opt/tern/cmdline,string=$static")
        set -- "$src/scripts/run-qemu.sh" "$build" --cpu default "${args[@]}"
    fi
    bench_boot "$out" '^TERN_READY;^TERN_NET_UP' "http://127.0.0.1:$port/healthz" 120 \
        "$1" "$2" --image "$tmp/run.img" --net "$port" --rng "${@:3}" || true
    bench_stop
    local ready wall=$bench_wall_ms
    ready=$(bench_line "$out" '.*metal: ready at \([0-9]*\) ms.*')
    [ "$mode" = dhcp ] && ready=$(bench_line "$out" '.*metal: network up at \([0-9]*\) ms.*')
    tr -d '\r' <"$out" | sed -n 's/.*metal: \(boot stages (us): .*\)/    \1/p' >"$tmp/stages"
    if [ -z "$wall" ] || [ -z "$ready" ]; then echo fail; else echo "$ready $wall $bench_seen_ms $bench_cpu_ms"; fi
}

echo "tern-microvm.elf: $(stat -c %s "$build/backends/baremetal/tern-microvm.elf") bytes;" \
     "BOOTX64.EFI: $(stat -c %s "$build/backends/baremetal/BOOTX64.EFI") bytes"
for mode in static dhcp; do
    for machine in microvm uefi; do
        for i in $(seq 1 "$runs"); do
            echo "$machine $mode run $i: entry->ready_ms qemu_start->first_200_ms qemu_start->ready_line_ms qemu_cpu_ms = $(boot "$machine" "$mode")"
            cat "$tmp/stages"
        done
    done
done
