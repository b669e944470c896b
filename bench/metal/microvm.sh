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
# usage: bench/metal/microvm.sh BUILD_DIR [RUNS]   (default 1 run per case)
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-1}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-microvm.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
static="ip=10.0.2.15/24 gw=10.0.2.2"

# boot MACHINE MODE: prints "ready_ms wall_ms" or "fail"
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
    local t0 wall=
    t0=$(date +%s%N)
    "$1" "$2" --image "$tmp/run.img" --net "$port" --rng "${@:3}" </dev/null >"$out" 2>&1 &
    pid=$!
    for _ in $(seq 1 2400); do
        if curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q 200; then
            wall=$(( ($(date +%s%N) - t0) / 1000000 ))
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        grep -aq 'halting with code\|^TERN_PANIC' "$out" && break
        sleep 0.01
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
    local ready
    ready=$(tr -d '\r' <"$out" | sed -n 's/.*metal: ready at \([0-9]*\) ms.*/\1/p' | head -1)
    [ "$mode" = dhcp ] && ready=$(tr -d '\r' <"$out" | sed -n 's/.*metal: network up at \([0-9]*\) ms.*/\1/p' | head -1)
    if [ -z "$wall" ] || [ -z "$ready" ]; then echo fail; else echo "$ready $wall"; fi
}

echo "tern-microvm.elf: $(stat -c %s "$build/backends/baremetal/tern-microvm.elf") bytes;" \
     "BOOTX64.EFI: $(stat -c %s "$build/backends/baremetal/BOOTX64.EFI") bytes"
for mode in static dhcp; do
    for machine in microvm uefi; do
        for i in $(seq 1 "$runs"); do
            echo "$machine $mode run $i: entry->ready_ms qemu_start->first_200_ms = $(boot "$machine" "$mode")"
        done
    done
done
