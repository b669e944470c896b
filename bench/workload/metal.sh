#!/usr/bin/env bash
# Bare-metal boot with the workload loaded from the disk, under QEMU TCG
# (docs/performance.md, "Workloads"): for the kv workload on the ESP
# (fixtures/manifests/kv.json + kv.elf) and for the built-in hello app,
# a static address (fw_cfg ip=10.0.2.15/24), on the guest clock:
#   services  UEFI entry -> the OS's services up with the app loaded and
#             started (`metal: ready at N ms after UEFI entry`)
#   load      the app file's load (`workload: NAME.elf loaded in N us`:
#             ELF checks, placement, relocation, sealing)
#   start     the app's start -> its health check passes
#             (`workload: NAME ready N ms after its start`, TERN_READY)
#   ready     UEFI entry -> TERN_READY = services + start (an upper bound
#             within 1 ms: the app starts just before the services line)
# Then the first HTTP answer from the app through QEMU's user network
# (GET /healthz, host wall time from QEMU start), which ends the boot.
# usage: bench/workload/metal.sh BUILD_DIR [RUNS]   (default 5 boots per workload)
# env: WORKLOADS="kv hello" picks the workloads; BENCH_QEMU_ARGS adds QEMU
# arguments to every boot.
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-5}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/integration/lib.sh"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed"
. "$src/bench/metal/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-wl-metal.XXXXXX")
trap 'bench_stop; rm -rf "$tmp"' EXIT
port=$(bench_free_port)

"$src/scripts/make-image.sh" "$build" "$tmp/kv.img" "" 64 "$build/apps/kv.tpk" >/dev/null
"$src/scripts/make-image.sh" "$build" "$tmp/hello.img" >/dev/null

# line REGEX: the first capture of REGEX in the serial log (CRs dropped).
line() { bench_line "$tmp/serial.log" "$1"; }

# boot NAME: prints "services_ms load_us start_ms ready_ms first_200_wall_ms" or "fail"
boot() {
    local name=$1 out=$tmp/serial.log wall
    cp "$tmp/$name.img" "$tmp/run.img"
    bench_boot "$out" "^TERN_READY .*app=$name" "http://127.0.0.1:$port/healthz" 60 \
        "$src/scripts/run-qemu.sh" "$build" --image "$tmp/run.img" --net "$port" --rng \
        -fw_cfg "name=opt/tern/cmdline,string=ip=10.0.2.15/24 gw=10.0.2.2" \
        ${BENCH_QEMU_ARGS:-} || true
    bench_stop
    wall=$bench_wall_ms
    local svc load start
    svc=$(line '.*metal: ready at \([0-9]*\) ms.*')
    load=$(line ".*workload: $name\.elf loaded in \([0-9]*\) us.*")
    start=$(line ".*workload: $name ready \([0-9]*\) ms after its start.*")
    if [ -z "$wall" ] || [ -z "$svc" ] || [ -z "$load" ] || [ -z "$start" ]; then
        echo fail
        tail -20 "$out" >&2
    else
        echo "$svc $load $start $((svc + start)) $wall"
    fi
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); kv.elf $(stat -c %s "$build/apps/kv.elf") bytes," \
    "hello.elf $(stat -c %s "$build/apps/hello.elf") bytes"
printf '%-14s %12s %9s %10s %10s %12s\n' boot services_ms load_us start_ms ready_ms first_200_ms
for i in $(seq 1 "$runs"); do
    for name in ${WORKLOADS:-kv hello}; do
        read -r svc load start ready wall <<<"$(boot "$name")"
        printf '%-14s %12s %9s %10s %10s %12s\n' "$name run $i" "$svc" "${load:-}" "${start:-}" \
            "${ready:-}" "${wall:-}"
        tr -d '\r' <"$tmp/serial.log" | sed -n 's/.*metal: \(boot stages (us): .*\)/    \1/p'
    done
done
