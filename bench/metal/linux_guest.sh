#!/usr/bin/env bash
# Tern against a Debian Linux guest under the same QEMU TCG settings, in
# the same run (docs/performance.md, "Debian Linux guest comparison"), on
# MACHINE=pc (the default: Tern's UEFI image on i440fx + OVMF, Linux
# with -kernel through SeaBIOS, virtio-PCI) or MACHINE=microvm (QEMU's
# microvm: Tern's PVH kernel and Linux both with -kernel, virtio-mmio;
# docs/microvm.md):
#   1. boot, static address and DHCP, RUNS runs each, Tern and Linux
#      alternating: guest clock to ready (Tern: `metal: ready at N ms after
#      UEFI|PVH entry`; Linux: /proc/uptime when nginx listens) and host
#      wall time from QEMU start to the first HTTP 200 from /healthz
#      through hostfwd;
#   2. the smallest -m that still serves /healthz (static address),
#      bisected to MEM_STEP MiB for each guest;
#   3. HTTP keep-alive requests/s over a TAP in a network namespace this
#      script creates (host side 192.0.2.1, guest 192.0.2.2), wrk inside it
#      (-t1, CONNS connections, SECONDS per case, --latency for p99), for
#      /healthz and /, QEMU pinned to CPU 0 and wrk to CPU 1. Tern gets
#      log=warn (access lines to its log ring, not to serial), as nginx
#      has its access log off.
# Summaries give the median and the range over the runs, and the median of
# the per-run ratios (the same run index pairs the two guests).
# Same QEMU settings for both: -accel tcg -cpu CPU -m MEM -smp 1, guest RAM
# a memfd of MEM, -nodefaults, serial on stdio, virtio-net (user net
# restrict=on with hostfwd to 127.0.0.1, or the TAP), virtio-rng,
# isa-debug-exit. Tern boots its disk image (scripts/make-image.sh) with
# scripts/run-qemu.sh (pc) or scripts/run-microvm.sh (microvm); the Linux
# guest has no disk. The Linux guest: bench/metal/linux_initrd.sh.
# On microvm the Linux guest boots Debian's kernel as vmlinux through its
# PVH entry, as Tern boots (LINUX_KERNEL=bzimage: the packaged bzImage,
# decompressed in the guest: about 3x slower to the first 200 under TCG).
# On microvm Linux cannot calibrate its TSC (no PIT gate at port 0x61, no
# HPET, no PM timer, no kvmclock under TCG; without a rate it hangs in
# early boot), so it gets tsc_early_khz= from the host's /proc/cpuinfo
# (TCG's TSC is the host's).
#
# usage: bench/metal/linux_guest.sh BUILD_DIR [RUNS] [SECONDS]
#   BUILD_DIR  configured with meson/x86_64-baremetal.ini and built
#   RUNS       boots per mode and guest, and wrk runs per guest (default 3)
#   SECONDS    per wrk case (default 10)
# env: MACHINE (pc or microvm), LINUX_KERNEL (pvh or bzimage, microvm
#      only), CPU (-cpu, default max), CONNS (wrk
#      connections, default 10), MEM (-m, default 256M), CACHE (default
#      BUILD_DIR/linux-guest), BOOT_TIMEOUT (s, default 180), MEM_STEP
#      (MiB, default 2), SKIP_BOOT=1, SKIP_MEM=1, SKIP_TAP=1 (leave a part
#      out), SAVE_INITRD=FILE (keep a copy of the initramfs). Needs root
#      for the TAP part, which is skipped (with a message) otherwise.
#      `make bench-metal-linux` runs it on pc, `make bench-microvm` on
#      microvm, on the Makefile's BUILD.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2; }
build=$(cd "$1" && pwd)
runs=${2:-3}
secs=${3:-10}
machine=${MACHINE:-pc}
cpu=${CPU:-max}
conns=${CONNS:-10}
mem=${MEM:-256M}
mem_step=${MEM_STEP:-2}
boot_timeout=${BOOT_TIMEOUT:-180}
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/bench/metal
cache=${CACHE:-$build/linux-guest}
. "$here/lib.sh"

die() { echo "linux_guest: $*" >&2; exit 1; }
for t in qemu-system-x86_64 curl wrk taskset python3; do
    command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh test)"
done
case $machine in
    pc) [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || die "OVMF not installed (ovmf)" ;;
    microvm) ;;
    *) die "MACHINE is pc or microvm" ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-linux-guest.XXXXXX")
ns=
cleanup() {
    bench_stop
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the Debian guest (bench/metal/linux_initrd.sh) --------------------
"$here/linux_initrd.sh" "$cache" >"$tmp/guest.txt" || die "building the Linux guest failed"
{ read -r vmlinuz; read -r vmlinux; read -r initrd; read -r guest_pkgs; read -r guest_mods; } <"$tmp/guest.txt"
# The kernel image: the bzImage on pc; on microvm the vmlinux through its
# PVH entry unless LINUX_KERNEL=bzimage.
kernel=$vmlinuz
[ "$machine" = microvm ] && [ "${LINUX_KERNEL:-pvh}" = pvh ] && kernel=$vmlinux
[ -n "${SAVE_INITRD:-}" ] && cp "$initrd" "$SAVE_INITRD"
tsc_khz=$(awk -F: '/^cpu MHz/ { printf "%d\n", $2 * 1000 + 0.5; exit }' /proc/cpuinfo)

# ---- Tern ------------------------------------------------------------------
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" >/dev/null
port=$(bench_free_port)

# linux_cmd NET MEM APPEND: the Linux guest's QEMU command into the array
# qcmd; NET is "user" (hostfwd $port) or "tap".
linux_cmd() {
    local net=$1 m=$2 append="console=ttyS0 quiet panic=-1 ${3:-}" nd dev=pci mach=()
    if [ "$net" = tap ]; then
        nd="tap,id=net0,ifname=tap0,script=no,downscript=no"
    else
        nd="user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:80"
    fi
    if [ "$machine" = microvm ]; then
        mach=(-M microvm)
        dev=device
        append="$append tsc_early_khz=$tsc_khz"
    fi
    qcmd=(qemu-system-x86_64 "${mach[@]}" -accel tcg -cpu "$cpu" -m "$m" -smp 1
          -object "memory-backend-memfd,id=ram0,size=$m" -machine memory-backend=ram0
          -nodefaults -no-user-config -serial stdio -display none -monitor none -no-reboot
          -device isa-debug-exit,iobase=0xf4,iosize=0x04
          -kernel "$kernel" -initrd "$initrd" -append "$append"
          -netdev "$nd" -device "virtio-net-$dev,netdev=net0"
          -device "virtio-rng-$dev")
}
# tern_cmd NET MEM CMDLINE: Tern's, through scripts/run-qemu.sh or
# scripts/run-microvm.sh.
tern_cmd() {
    local net=$1 m=$2 cmdline=${3:-} args=()
    cp "$tmp/tern.img" "$tmp/run.img"
    if [ "$net" = tap ]; then args=(--tap tap0); else args=(--net "$port"); fi
    if [ "$machine" = microvm ]; then
        qcmd=("$src/scripts/run-microvm.sh" "$build" --image "$tmp/run.img" "${args[@]}" --rng
              --mem "$m" --cpu "$cpu" --append "$cmdline")
    else
        [ -n "$cmdline" ] && args+=(-fw_cfg "name=opt/tern/cmdline,string=$cmdline")
        qcmd=("$src/scripts/run-qemu.sh" "$build" --image "$tmp/run.img" --rng --mem "$m"
              --cpu "$cpu" "${args[@]}")
    fi
}

# ms_of_uptime MARK FILE: LINUX_MARK MARK's uptime in ms (empty if none).
ms_of_uptime() {
    tr -d '\r' <"$2" | sed -n "s/^LINUX_MARK $1 uptime=\([0-9]*\)\.\([0-9]*\).*/\1 \2/p" | head -1 |
        awk '{ printf "%d\n", $1 * 1000 + substr($2 "000", 1, 3) }'
}
ready_ere() {
    if [ "$1" = tern ]; then echo '^TERN_READY'; else echo '^LINUX_MARK ready'; fi
}

# boot GUEST MODE [MEM]: one boot on the user network; prints
# "serve_ms ready_ms net_ms wall_ms init_ms seen_ms cpu_ms" or "fail". serve_ms
# is the later of ready and network up on the guest clock (with DHCP
# Tern's TERN_READY comes before the lease); init_ms is "-" for Tern;
# seen_ms is host time from QEMU start until the serial log holds the
# ready line (TERN_READY and TERN_NET_UP, or LINUX_MARK ready), the bound
# a plausible guest clock stays under; cpu_ms is QEMU's CPU time by the
# first 200 (lib.sh).
boot() {
    local guest=$1 mode=$2 m=${3:-$mem} out=$tmp/serial.log ready_re
    if [ "$guest" = tern ]; then
        [ "$mode" = static ] && tern_cmd user "$m" "ip=10.0.2.15/24 gw=10.0.2.2" || tern_cmd user "$m"
        ready_re='^TERN_READY;^TERN_NET_UP'
    else
        [ "$mode" = static ] && linux_cmd user "$m" "tern_ip=10.0.2.15/24 tern_gw=10.0.2.2" || linux_cmd user "$m"
        ready_re='^LINUX_MARK ready'
    fi
    bench_boot "$out" "$ready_re" "http://127.0.0.1:$port/healthz" "${BOOT_LIMIT:-$boot_timeout}" "${qcmd[@]}" || true
    bench_stop
    local ready net init=- wall=$bench_wall_ms seen=$bench_seen_ms cpu=$bench_cpu_ms
    if [ "$guest" = tern ]; then
        ready=$(bench_line "$out" '.*metal: ready at \([0-9]*\) ms.*')
        net=$(bench_line "$out" '.*metal: network up at \([0-9]*\) ms.*')
        [ "$mode" = static ] && net=$ready
    else
        ready=$(ms_of_uptime ready "$out")
        net=$(ms_of_uptime net_up "$out")
        init=$(ms_of_uptime init "$out")
    fi
    if [ -z "$wall" ] || [ -z "$ready" ] || [ -z "$net" ]; then
        cp "$out" "$tmp/failed-$guest-$mode.log"
        echo fail
    else
        echo "$(( ready > net ? ready : net )) $ready $net $wall $init $seen $cpu"
    fi
}

# summary KIND FILE: medians, ranges and per-run ratios (python3).
summary() { python3 "$here/linux_guest_summary.py" "$1" "$2"; }

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  load: $(cut -d' ' -f1-3 /proc/loadavg)  machine: $machine  cpu: $cpu  -m $mem"
echo "$guest_pkgs"
echo "nginx: $(dpkg-query -W -f='${Version}' nginx)  qemu: $(dpkg-query -W -f='${Version}' qemu-system-x86)"
echo "initramfs: $(stat -c %s "$initrd") bytes uncompressed (modules: $guest_mods)"
[ "$machine" = microvm ] && echo "linux: -kernel $(basename "$kernel") ($(stat -c %s "$kernel") bytes), tsc_early_khz=$tsc_khz"
tern_bin=$build/backends/baremetal/BOOTX64.EFI
[ "$machine" = microvm ] && tern_bin=$build/backends/baremetal/tern-microvm.elf
echo "tern: $(git -C "$src" log -1 --format='%h %cd' --date=format:'%H:%M' 2>/dev/null || echo '?')  $(basename "$tern_bin") $(stat -c %s "$tern_bin") bytes"
res=$tmp/boot.txt
: >"$res"
modes="static dhcp"
[ "${SKIP_BOOT:-0}" = 1 ] && modes=
for mode in $modes; do
    for i in $(seq 1 "$runs"); do
        for guest in tern linux; do
            r=$(boot "$guest" "$mode")
            echo "$mode $guest run $i: serve_ms ready_ms net_up_ms qemu_start->first_200_ms init_ms qemu_start->ready_seen_ms qemu_cpu_ms = $r"
            [ "$r" = fail ] && { tail -30 "$tmp/failed-$guest-$mode.log" >&2; continue; }
            set -- $r
            if [ "$1" -gt "$6" ]; then
                echo "$mode $guest run $i: excluded, guest clock implausible (serve $1 ms > $6 ms host time to the ready line; TSC calibration under load?)"
                continue
            fi
            echo "$mode $guest $i $r" >>"$res"
        done
    done
done
[ -s "$res" ] && summary boot "$res"

# ---- the smallest -m that serves ------------------------------------------
# serves GUEST MIB: one static boot with -m MIB that answers /healthz
# within the limit (a failing Linux boot may hang rather than panic).
serves() {
    local r
    r=$(BOOT_LIMIT=$mem_limit boot "$1" static "${2}M")
    [ "$r" = fail ] && r="fail: $(tr -d '\r' <"$tmp/failed-$1-static.log" | grep -av '^ *$' | tail -1 | cut -c1-120)"
    echo "-m ${2}M $1: $r" >&2
    [ "${r%%:*}" != fail ]
}
if [ "${SKIP_MEM:-0}" != 1 ]; then
    # A limit of twice the slowest static boot of this run (or BOOT_TIMEOUT).
    mem_limit=$(awk '$1 == "static" { w = $7 / 1000; if (w > m) m = w } END { print (m > 0) ? int(2 * m + 10) : 0 }' "$res")
    [ "$mem_limit" -gt 0 ] || mem_limit=$boot_timeout
    echo "smallest -m that serves (static address, bisected to ${mem_step} MiB, ${mem_limit} s limit per boot):"
    for guest in tern linux; do
        lo=0 hi=${mem%M}
        serves "$guest" "$hi" 2>>"$tmp/mem.log" || { echo "  $guest: does not serve at -m $mem"; continue; }
        while [ $((hi - lo)) -gt "$mem_step" ]; do
            mid=$(( (lo + hi) / 2 ))
            if serves "$guest" "$mid" 2>>"$tmp/mem.log"; then hi=$mid; else lo=$mid; fi
        done
        echo "  $guest: -m ${hi}M serves, -m ${lo}M does not"
    done
    sed 's/^/    /' "$tmp/mem.log"
fi

# ---- keep-alive requests/s over TAP ----------------------------------------
if [ "${SKIP_TAP:-0}" = 1 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
    echo "keep-alive over TAP: skipped (needs root and /dev/net/tun)"
    exit 0
fi
ns=tern-guestbench-$$
ip netns add "$ns"
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap
nsx ip addr add 192.0.2.1/24 dev tap0
nsx ip link set tap0 up

# wrk_case URL: "req_per_s p99_ms" from one wrk run inside the namespace.
wrk_case() {
    nsx taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "$1" >"$tmp/wrk" 2>&1 || true
    awk '/^Requests\/sec:/ { rps = $2 }
         $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
                       p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v }
         END { if (rps == "") print "fail"; else printf "%s %.2f\n", rps, p99 }' "$tmp/wrk"
}
echo "keep-alive over TAP: wrk -t1 -c$conns -d${secs}s --latency http://192.0.2.2{/healthz,/} (QEMU on CPU 0, wrk on CPU 1)"
ka=$tmp/ka.txt
: >"$ka"
for i in $(seq 1 "$runs"); do
    for guest in tern linux; do
        out=$tmp/serial.log
        if [ "$guest" = tern ]; then
            # log=warn: access lines stay in the log ring, off the serial
            # port (nginx runs with access_log off; bench/http/bench.sh
            # gives tern-linux --log-level warn the same way).
            tern_cmd tap "$mem" "ip=192.0.2.2/24 gw=192.0.2.1 log=warn"
        else
            linux_cmd tap "$mem" "tern_ip=192.0.2.2/24 tern_gw=192.0.2.1"
        fi
        nsx ip neigh flush dev tap0 2>/dev/null || true
        if ! BENCH_NS=$ns bench_boot "$out" "$(ready_ere "$guest")" http://192.0.2.2/healthz "$boot_timeout" \
                taskset -c 0 "${qcmd[@]}"; then
            echo "$guest run $i: did not serve over TAP" >&2
            tail -30 "$out" >&2
            bench_stop
            continue
        fi
        for path in /healthz /; do
            r=$(wrk_case "http://192.0.2.2$path")
            echo "tap $guest run $i $path: req/s p99_ms = $r"
            [ "$r" = fail ] && { cat "$tmp/wrk" >&2; continue; }
            echo "$guest $i $path $r" >>"$ka"
        done
        bench_stop
    done
done
[ -s "$ka" ] && summary tap "$ka"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
