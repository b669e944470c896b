#!/usr/bin/env bash
# Tern against a Debian Linux guest under the same QEMU TCG settings, in
# the same run (docs/performance.md, "Debian Linux guest comparison"):
#   1. boot, static address and DHCP, RUNS runs each, Tern and Linux
#      alternating: guest clock to ready (Tern: `metal: ready at N ms after
#      UEFI entry`; Linux: /proc/uptime when nginx listens) and host wall
#      time from QEMU start to the first HTTP 200 from /healthz through
#      hostfwd (Tern's includes OVMF; Linux boots with -kernel through
#      QEMU's default SeaBIOS);
#   2. HTTP keep-alive requests/s over a TAP in a network namespace this
#      script creates (host side 192.0.2.1, guest 192.0.2.2), wrk inside it
#      (-t1, CONNS connections, SECONDS per case, --latency for p99), for
#      /healthz and /, QEMU pinned to CPU 0 and wrk to CPU 1. Tern gets
#      log=warn (access lines to its log ring, not to serial), as nginx
#      has its access log off.
# Same QEMU settings for both: -accel tcg -cpu max -m MEM -smp 1, guest RAM a
# memfd of MEM (as scripts/run-qemu.sh gives Tern), -nodefaults,
# i440fx, serial on stdio, virtio-net-pci (user net restrict=on with hostfwd
# to 127.0.0.1, or the TAP), virtio-rng-pci, isa-debug-exit. Tern boots its
# disk image (scripts/make-image.sh) with scripts/run-qemu.sh.
#
# The Linux guest is Debian's own: the kernel package the host's
# linux-image-amd64 depends on and busybox-static, fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` into CACHE (nothing
# is installed into the host's /boot), and the host's nginx (package
# nginx) copied with the libraries ldd names. The initramfs (uncompressed
# newc cpio) holds busybox, the virtio modules (virtio_pci, virtio_net,
# virtio-rng and their dependencies from the modules' .modinfo), nginx
# (linux_nginx.conf: one worker, /healthz returns "ok", / Tern's
# index.html), and linux_init.sh as /init, which prints LINUX_MARK lines.
#
# usage: bench/metal/linux_guest.sh BUILD_DIR [RUNS] [SECONDS]
#   BUILD_DIR  configured with meson/x86_64-baremetal.ini and built
#   RUNS       boots per mode and guest, and wrk runs per guest (default 3)
#   SECONDS    per wrk case (default 10)
# env: CONNS (wrk connections, default 10), MEM (-m, default 256M),
#      CACHE (default BUILD_DIR/linux-guest), BOOT_TIMEOUT (s, default 180),
#      SKIP_TAP=1 (boot figures only), SKIP_BOOT=1 (TAP figures only),
#      SAVE_INITRD=FILE (keep a copy of the initramfs). Needs root for the
#      TAP part, which is skipped (with a message) otherwise.
#      `make bench-metal-linux` runs it on the Makefile's BUILD.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2; }
build=$(cd "$1" && pwd)
runs=${2:-3}
secs=${3:-10}
conns=${CONNS:-10}
mem=${MEM:-256M}
boot_timeout=${BOOT_TIMEOUT:-180}
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/bench/metal
cache=${CACHE:-$build/linux-guest}

die() { echo "linux_guest: $*" >&2; exit 1; }
for t in qemu-system-x86_64 curl apt-get apt-cache dpkg-deb objcopy ldd nginx wrk taskset python3; do
    command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh test)"
done
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || die "OVMF not installed (ovmf)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-linux-guest.XXXXXX")
pid= ns=
stop_guest() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
    fi
}
cleanup() {
    stop_guest
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the Debian guest ------------------------------------------------------
# fetch PKG: unpacks the candidate version of PKG into $cache (once per
# version) and prints the directory.
fetch() {
    local pkg=$1 ver dir
    ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
    [ -n "$ver" ] || die "apt-cache knows no $pkg (apt-get update?)"
    dir=$cache/${pkg}_${ver//:/%3a}
    if [ ! -f "$dir/.unpacked" ]; then
        mkdir -p "$cache/debs" "$dir"
        (cd "$cache/debs" && rm -f "${pkg}"_*.deb && apt-get download "$pkg" >"$tmp/apt.log" 2>&1) \
            || { cat "$tmp/apt.log" >&2; die "apt-get download $pkg failed"; }
        dpkg-deb -x "$cache/debs/${pkg}"_*.deb "$dir"
        echo "$pkg $ver" >"$dir/.unpacked"
    fi
    echo "$dir"
}
kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || die "cannot resolve the kernel package linux-image-amd64 depends on"
kdir=$(fetch "$kpkg")
bbdir=$(fetch busybox-static)
vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
moddir=$(ls -d "$kdir"/lib/modules/*)

root=$tmp/initramfs
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,usr/sbin,lib/modules,nginx/www,nginx/tmp}
cp "$bbdir/bin/busybox" "$root/bin/busybox"
for a in sh mount insmod usleep sleep ip udhcpc awk cat; do ln -s busybox "$root/bin/$a"; done

# Modules: depth-first over .modinfo's depends=, dependencies first.
modlist=()
modfile() { find "$moddir/kernel" -name "$(echo "$1" | sed 's/[-_]/[-_]/g').ko" | head -1; }
adddeps() {
    local m=$1 f d
    for d in "${modlist[@]:-}"; do [ "$d" = "$m" ] && return 0; done
    f=$(modfile "$m")
    [ -n "$f" ] || die "module $m not in $kpkg"
    objcopy -O binary -j .modinfo "$f" "$tmp/modinfo"
    for d in $(tr '\0' '\n' <"$tmp/modinfo" | sed -n 's/^depends=//p' | tr ',' ' '); do adddeps "$d"; done
    modlist+=("$m")
    cp "$f" "$root/lib/modules/$m.ko"
}
for m in virtio_pci virtio_net virtio-rng; do adddeps "$m"; done
printf '%s\n' "${modlist[@]}" >"$root/etc/modules"

# nginx and the libraries it links (as ldd names them, the loader too).
cp /usr/sbin/nginx "$root/usr/sbin/nginx"
for lib in $(ldd /usr/sbin/nginx | awk '/=> \// {print $3} /^[ \t]*\/[^ ]*ld-linux/ {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
cp "$here/linux_nginx.conf" "$root/nginx/nginx.conf"
cp "$src/backends/baremetal/site/index.html" "$root/nginx/www/index.html"
cp "$here/linux_init.sh" "$root/init"
cp "$here/linux_udhcpc.sh" "$root/etc/udhcpc.sh"
chmod 755 "$root/init" "$root/etc/udhcpc.sh"
printf 'root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\n' >"$root/etc/nsswitch.conf"
mknod "$root/dev/console" c 5 1 2>/dev/null || true
initrd=$tmp/initrd.cpio
(cd "$root" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) >"$initrd"
[ -n "${SAVE_INITRD:-}" ] && cp "$initrd" "$SAVE_INITRD"

# ---- Tern ------------------------------------------------------------------
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# linux_cmd NET APPEND...: the Linux guest's QEMU command into the array
# qcmd; NET is "user" (hostfwd $port) or "tap".
linux_cmd() {
    local net=$1 append="console=ttyS0 quiet panic=-1 ${2:-}" nd
    if [ "$net" = tap ]; then
        nd="tap,id=net0,ifname=tap0,script=no,downscript=no"
    else
        nd="user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:80"
    fi
    qcmd=(qemu-system-x86_64 -accel tcg -cpu max -m "$mem" -smp 1
          -object "memory-backend-memfd,id=ram0,size=$mem" -machine memory-backend=ram0
          -nodefaults -serial stdio -display none -monitor none -no-reboot
          -device isa-debug-exit,iobase=0xf4,iosize=0x04
          -kernel "$vmlinuz" -initrd "$initrd" -append "$append"
          -netdev "$nd" -device virtio-net-pci,netdev=net0
          -device virtio-rng-pci)
}
# tern_cmd NET CMDLINE: Tern's, through scripts/run-qemu.sh.
tern_cmd() {
    local net=$1 cmdline=${2:-} fw=()
    cp "$tmp/tern.img" "$tmp/run.img"
    [ -n "$cmdline" ] && fw=(-fw_cfg "name=opt/tern/cmdline,string=$cmdline")
    if [ "$net" = tap ]; then
        qcmd=("$src/scripts/run-qemu.sh" "$build" --image "$tmp/run.img" --tap tap0 --rng --mem "$mem" "${fw[@]}")
    else
        qcmd=("$src/scripts/run-qemu.sh" "$build" --image "$tmp/run.img" --net "$port" --rng --mem "$mem" "${fw[@]}")
    fi
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# ms_of_uptime MARK FILE: LINUX_MARK MARK's uptime in ms (empty if none).
ms_of_uptime() {
    tr -d '\r' <"$2" | sed -n "s/^LINUX_MARK $1 uptime=\([0-9]*\)\.\([0-9]*\).*/\1 \2/p" | head -1 |
        awk '{ printf "%d\n", $1 * 1000 + substr($2 "000", 1, 3) }'
}

# boot GUEST MODE: one boot on the user network; prints
# "serve_ms ready_ms net_ms wall_ms init_ms seen_ms" or "fail". serve_ms
# is the later of ready and network up on the guest clock (with DHCP
# Tern's TERN_READY comes before the lease); init_ms is "-" for Tern;
# seen_ms is host time from QEMU start until the serial log holds the
# ready lines (TERN_READY and TERN_NET_UP, or LINUX_MARK ready), the bound
# a plausible guest clock stays under.
boot() {
    local guest=$1 mode=$2 out=$tmp/serial.log t0 wall= deadline seen=
    if [ "$guest" = tern ]; then
        [ "$mode" = static ] && tern_cmd user "ip=10.0.2.15/24 gw=10.0.2.2" || tern_cmd user
    else
        [ "$mode" = static ] && linux_cmd user "tern_ip=10.0.2.15/24 tern_gw=10.0.2.2" || linux_cmd user
    fi
    t0=$(now_ms)
    deadline=$((t0 + boot_timeout * 1000))
    "${qcmd[@]}" </dev/null >"$out" 2>&1 &
    pid=$!
    # curl only once the serial log says the guest serves: earlier polls
    # send connection attempts through slirp into a guest still booting
    # (and spawn a curl every 50 ms next to QEMU on this 2-CPU host).
    while [ "$(now_ms)" -lt "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || break
        grep -aq 'halting with code\|^TERN_PANIC\|^LINUX_MARK fail\|Kernel panic' "$out" && break
        if [ -z "$seen" ]; then
            if { [ "$guest" = tern ] && grep -aq '^TERN_READY' "$out" && grep -aq '^TERN_NET_UP' "$out"; } ||
               { [ "$guest" = linux ] && grep -aq '^LINUX_MARK ready' "$out"; }; then
                seen=$(( $(now_ms) - t0 ))
            fi
        fi
        if [ -n "$seen" ] &&
           [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/healthz" 2>/dev/null)" = 200 ]; then
            wall=$(( $(now_ms) - t0 ))
            break
        fi
        sleep 0.05
    done
    stop_guest
    local ready net init=-
    if [ "$guest" = tern ]; then
        ready=$(tr -d '\r' <"$out" | sed -n 's/.*metal: ready at \([0-9]*\) ms.*/\1/p' | head -1)
        net=$(tr -d '\r' <"$out" | sed -n 's/.*metal: network up at \([0-9]*\) ms.*/\1/p' | head -1)
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
        echo "$(( ready > net ? ready : net )) $ready $net $wall $init $seen"
    fi
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kernel: $(cat "$kdir/.unpacked")  busybox: $(cat "$bbdir/.unpacked")"
echo "nginx: $(dpkg-query -W -f='${Version}' nginx)  qemu: $(dpkg-query -W -f='${Version}' qemu-system-x86)  ovmf: $(dpkg-query -W -f='${Version}' ovmf)"
echo "initramfs: $(stat -c %s "$initrd") bytes uncompressed (modules: ${modlist[*]})"
echo "tern: $(git -C "$src" log -1 --format='%h %cd' --date=format:'%H:%M' 2>/dev/null || echo '?')  BOOTX64.EFI $(stat -c %s "$build/backends/baremetal/BOOTX64.EFI") bytes"
res=$tmp/boot.txt
: >"$res"
modes="static dhcp"
[ "${SKIP_BOOT:-0}" = 1 ] && modes=
for mode in $modes; do
    for i in $(seq 1 "$runs"); do
        for guest in tern linux; do
            r=$(boot "$guest" "$mode")
            echo "$mode $guest run $i: serve_ms ready_ms net_up_ms qemu_start->first_200_ms init_ms qemu_start->ready_seen_ms = $r"
            [ "$r" = fail ] && { cat "$tmp/failed-$guest-$mode.log" >&2; continue; }
            set -- $r
            if [ "$1" -gt "$6" ]; then
                echo "$mode $guest run $i: excluded, guest clock implausible (serve $1 ms > $6 ms host time to the ready line; TSC calibration under load?)"
                continue
            fi
            echo "$mode $guest $i $r" >>"$res"
        done
    done
done
# Ranges over the runs and per-run ratios (Linux / Tern, same run index)
# of the guest-clock serve time and of the wall time to the first 200.
# "Before the guest clock" is seen_ms - serve_ms: host time spent before
# the guest's clock started (firmware, loading, Linux's decompressor and
# early setup), plus up to one 50 ms poll.
awk '
    { key = $1 " " $2; n[key]++; $10 = $9 - $4
      for (f = 4; f <= 10; f++) { v = $f; k = key SUBSEP f; if (v == "-") continue
          if (!(k in lo) || v < lo[k]) lo[k] = v; if (!(k in hi) || v > hi[k]) hi[k] = v }
      val[$1, $2, $3, 4] = $4; val[$1, $2, $3, 7] = $7; runs[$1, $3] = 1 }
    END {
      split("static dhcp", modes, " ")
      for (m = 1; m <= 2; m++) { mode = modes[m]
        for (g = 0; g < 2; g++) { guest = g ? "linux" : "tern"; key = mode " " guest
          if (!(key in n)) continue
          printf "%-6s %-5s guest serve %d-%d ms (ready %d-%d, net up %d-%d%s), QEMU start -> first 200 %d-%d ms, before the guest clock %d-%d ms (%d runs)\n",
              mode, guest, lo[key SUBSEP 4], hi[key SUBSEP 4], lo[key SUBSEP 5], hi[key SUBSEP 5],
              lo[key SUBSEP 6], hi[key SUBSEP 6],
              ((key SUBSEP 8) in lo) ? sprintf(", /init %d-%d", lo[key SUBSEP 8], hi[key SUBSEP 8]) : "",
              lo[key SUBSEP 7], hi[key SUBSEP 7], lo[key SUBSEP 10], hi[key SUBSEP 10], n[key] }
        rl = ""; rh = ""; wl = ""; wh = ""
        for (k in runs) { split(k, p, SUBSEP); if (p[1] != mode) continue; i = p[2]
          if (!((mode, "tern", i, 4) in val) || !((mode, "linux", i, 4) in val)) continue
          r = val[mode, "linux", i, 4] / val[mode, "tern", i, 4]
          w = val[mode, "linux", i, 7] / val[mode, "tern", i, 7]
          if (rl == "" || r < rl) rl = r; if (rh == "" || r > rh) rh = r
          if (wl == "" || w < wl) wl = w; if (wh == "" || w > wh) wh = w }
        if (rl != "") printf "%-6s ratio Linux/Tern: guest serve %.1f-%.1fx, wall to first 200 %.2f-%.2fx\n", mode, rl, rh, wl, wh
      } }' "$res"

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
            tern_cmd tap "ip=192.0.2.2/24 gw=192.0.2.1 log=warn"; marker='^TERN_READY'
        else
            linux_cmd tap "tern_ip=192.0.2.2/24 tern_gw=192.0.2.1"; marker='^LINUX_MARK (ready|fail)'
        fi
        nsx ip neigh flush dev tap0 2>/dev/null || true
        # not through nsx: $! must be the command (ip netns exec execs it).
        ip netns exec "$ns" taskset -c 0 "${qcmd[@]}" </dev/null >"$out" 2>&1 &
        pid=$!
        deadline=$(( $(now_ms) + boot_timeout * 1000 ))
        ok=
        while [ "$(now_ms)" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
            if tr -d '\r' <"$out" | grep -Eq "$marker" &&
               [ "$(nsx curl -s -o /dev/null -m 2 -w '%{http_code}' http://192.0.2.2/healthz 2>/dev/null)" = 200 ]; then
                ok=1
                break
            fi
            sleep 0.05
        done
        if [ -z "$ok" ]; then
            echo "$guest run $i: did not serve over TAP" >&2
            cat "$out" >&2
            stop_guest
            continue
        fi
        for path in /healthz /; do
            r=$(wrk_case "http://192.0.2.2$path")
            echo "tap $guest run $i $path: req/s p99_ms = $r"
            [ "$r" = fail ] && { cat "$tmp/wrk" >&2; continue; }
            echo "$guest $i $path $r" >>"$ka"
        done
        stop_guest
    done
done
awk '
    { k = $1 " " $3; v = $4; p = $5
      if (!(k in lo) || v < lo[k]) lo[k] = v; if (!(k in hi) || v > hi[k]) hi[k] = v
      if (!(k in pl) || p < pl[k]) pl[k] = p; if (!(k in ph) || p > ph[k]) ph[k] = p
      val[$1, $2, $3] = v; paths[$3] = 1; idx[$2] = 1 }
    END {
      for (path in paths) {
        for (g = 0; g < 2; g++) { guest = g ? "linux" : "tern"; k = guest " " path
          if (k in lo) printf "tap %-5s %-8s %.0f-%.0f req/s, p99 %.2f-%.2f ms\n", guest, path, lo[k], hi[k], pl[k], ph[k] }
        rl = ""; rh = ""
        for (i in idx) { if (!(("tern", i, path) in val) || !(("linux", i, path) in val)) continue
          r = val["tern", i, path] / val["linux", i, path]
          if (rl == "" || r < rl) rl = r; if (rh == "" || r > rh) rh = r }
        if (rl != "") printf "tap ratio Tern/Linux %-8s %.2f-%.2fx req/s\n", path, rl, rh
      } }' "$ka"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
