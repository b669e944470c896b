#!/usr/bin/env bash
# Bare-metal boot figures under QEMU TCG (docs/performance.md):
#   - UEFI entry -> TERN_READY on the guest clock, with a static address
#     (fw_cfg ip=10.0.2.15/24) and with DHCP (entry -> lease);
#   - QEMU start -> first HTTP 200 from /healthz, host wall time;
#   - the size of BOOTX64.EFI;
#   - the smallest -m (from a list) that boots and serves.
# usage: bench/metal/bench.sh BUILD_DIR [RUNS]   (default 3 runs per mode)
# Each run also prints the kernel's two "boot stages (us)" lines.
# BENCH_QEMU_ARGS adds QEMU arguments to every boot (e.g. -mem-prealloc,
# which takes the host's page faults on first touch of guest RAM out of
# the guest clock: docs/performance.md).
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-3}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/bench/metal/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-metal.XXXXXX")
trap 'bench_stop; rm -rf "$tmp"' EXIT
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" >/dev/null
port=$(bench_free_port)

# boot MODE MEM: prints "ready_ms net_ms wall_ms" or "fail"
boot() {
    local mode=$1 mem=$2 fw=() out=$tmp/serial.log
    cp "$tmp/tern.img" "$tmp/run.img"
    [ "$mode" = static ] && fw=(-fw_cfg "name=opt/tern/cmdline,string=ip=10.0.2.15/24 gw=10.0.2.2")
    bench_boot "$out" '^TERN_READY;^TERN_NET_UP' "http://127.0.0.1:$port/healthz" 60 \
        "$src/scripts/run-qemu.sh" "$build" --image "$tmp/run.img" --net "$port" --rng --mem "$mem" \
        "${fw[@]}" ${BENCH_QEMU_ARGS:-} || true
    bench_stop
    local wall=$bench_wall_ms
    local ready net
    ready=$(bench_line "$out" '.*metal: ready at \([0-9]*\) ms.*')
    net=$(bench_line "$out" '.*metal: network up at \([0-9]*\) ms.*')
    [ "$mode" = static ] && net=$ready
    tr -d '\r' <"$out" | sed -n 's/.*metal: \(boot stages (us): .*\)/    \1/p' >"$tmp/stages"
    if [ -z "$wall" ] || [ -z "$ready" ]; then echo fail; else echo "$ready $net $wall"; fi
}

echo "BOOTX64.EFI: $(stat -c %s "$build/backends/baremetal/BOOTX64.EFI") bytes"
for mode in static dhcp; do
    for i in $(seq 1 "$runs"); do
        r=$(boot "$mode" 256M)
        echo "$mode run $i: entry->ready_ms entry->net_up_ms qemu_start->first_200_ms = $r"
        cat "$tmp/stages"
    done
done
for mem in 128M 96M 80M 72M 64M; do
    r=$(boot dhcp "$mem")
    echo "-m $mem: $r"
done
