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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-wl-metal.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$src/scripts/make-image.sh" "$build" "$tmp/kv.img" "" 64 "$build/apps/kv.tpk" >/dev/null
"$src/scripts/make-image.sh" "$build" "$tmp/hello.img" >/dev/null

# line REGEX: the first capture of REGEX in the serial log (CRs dropped).
line() { tr -d '\r' <"$tmp/serial.log" | sed -n "s/$1/\1/p" | head -1; }

# boot NAME: prints "services_ms load_us start_ms ready_ms first_200_wall_ms" or "fail"
boot() {
    local name=$1 out=$tmp/serial.log wall='' t0
    cp "$tmp/$name.img" "$tmp/run.img"
    t0=$(date +%s%N)
    "$src/scripts/run-qemu.sh" "$build" --image "$tmp/run.img" --net "$port" --rng \
        -fw_cfg "name=opt/tern/cmdline,string=ip=10.0.2.15/24 gw=10.0.2.2" \
        ${BENCH_QEMU_ARGS:-} </dev/null >"$out" 2>&1 &
    pid=$!
    for _ in $(seq 1 1200); do   # at most 60 s
        if grep -aq "^TERN_READY .*app=$name" "$out" &&
            curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/healthz" | grep -q 200; then
            wall=$(( ($(date +%s%N) - t0) / 1000000 ))
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        grep -aq 'halting with code\|^TERN_PANIC' "$out" && break
        sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
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
