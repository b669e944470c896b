#!/usr/bin/env bash
# Where tern-linux's time goes in TCP bulk transfer over TAP (the setup
# of tcp_tap.sh, one transfer each way, in namespaces this script
# creates): for each direction, perf stat on the tern-linux process
# (syscalls, CPU time, context switches) against the frames that crossed
# the TAP (its packet counters), then a perf sample of where the CPU time
# goes (top symbols, user and kernel). The meter's CPU time (perf stat
# task-clock, including `ip netns exec` and its start) and the whole
# machine's busy time over the transfer (/proc/stat, 10 ms ticks) say
# how much of the 2 CPUs the transfer got. Needs root and perf.
# usage: bench/net/tcp_tap_profile.sh BUILD/backends/linux/tern-linux [MIB]   (default 64)
# The Linux end is BUILD/bench/net/tcp_meter (C; METER=PATH overrides), as
# in tcp_tap.sh.
# TERN_ARGS="..." adds tern-linux options (e.g. "--tcp-buf 512 --mem 256").
# TAP_OPTS=",offload=off" measures the per-frame path (no IFF_VNET_HDR).
# CC=NAME: the namespace's TCP congestion control, as in tcp_tap.sh
# (default reno; CC= keeps the host's).
set -euo pipefail
tern=$1
mib=${2:-64}
bytes=$((mib << 20))
meter=${METER:-$(cd "$(dirname "$tern")/../.." && pwd)/bench/net/tcp_meter}
[ -x "$meter" ] || { echo "no $meter: ninja -C BUILD bench/net/tcp_meter, or METER=PATH"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
command -v perf >/dev/null || { echo "needs perf"; exit 77; }
tmp=$(mktemp -d)
ns1=tern-prof-$$
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$ns1" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns1"
[ -n "${CC-reno}" ] && ip netns exec "$ns1" sysctl -qw net.ipv4.tcp_congestion_control="${CC-reno}"
wait_line() { # FILE REGEX SECONDS
    for _ in $(seq $(( $3 * 50 ))); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
    echo "timeout waiting for /$2/ in $1" >&2; cat "$1" >&2; exit 1
}
pkts() { ip -n "$ns1" -s -j link show tp0 | python3 -c 'import json,sys
s=json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["packets"], s["tx"]["packets"])'; }

# tern's discard service receives; a Linux listener on port 5003 gets
# what tern sends once a marker file appears (--tcp-send starts at boot,
# so the send direction is measured with its own tern instance).
start_tern() { # EXTRA ARGS...
    ip netns exec "$ns1" taskset -c 1 "$tern" --net tap:tp0${TAP_OPTS:-} --ip 192.0.2.10/24 \
        --services discard ${TERN_ARGS:-} "$@" >"$tmp/out" 2>&1 &
    pid=$!
    wait_line "$tmp/out" '^TERN_NET_UP' 10
    ip -n "$ns1" addr add 192.0.2.1/24 dev tp0
    ip -n "$ns1" link set tp0 up
}
stop_tern() {
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    ip -n "$ns1" link del tp0 2>/dev/null || true
}
events=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_readv,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,task-clock,context-switches

cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
task_ms() { awk -F, '/task-clock/ { print $1 }' "$1"; }

report() { # NAME PERFSTAT P0 P1 SECONDS METERSTAT TICKS0 TICKS1
    read -r rx0 tx0 <<<"$3"; read -r rx1 tx1 <<<"$4"
    read -r b0 i0 <<<"$7"; read -r b1 i1 <<<"$8"
    # rx/tx are the Linux side of the TAP: its tx is what tern reads
    local in=$((tx1 - tx0)) out=$((rx1 - rx0))
    awk -v name="$1" -v fin="$in" -v fout="$out" -v secs="$5" -v bytes="$bytes" \
        -v mcpu="$(task_ms "$6")" -v busy=$((b1 - b0)) -v idle=$((i1 - i0)) '
        /raw_syscalls:sys_enter/ { gsub(",", "", $1); sc = $1 }
        /sys_enter_readv?$/ { gsub(",", "", $1); rd += $1 }
        /sys_enter_writev?$/ { gsub(",", "", $1); wr += $1 }
        /sys_enter_epoll_wait/ { gsub(",", "", $1); ep = $1 }
        /task-clock/ { gsub(",", "", $1); cpu = $1 }
        /context-switches/ { gsub(",", "", $1); cs = $1 }
        END {
            f = fin + fout
            printf "%s: frames into tern %d, out of tern %d (a TSO/coalesced frame counts once); syscalls %d (read/readv %d, write/writev %d, epoll_wait %d) = %.2f per frame, %.0f bytes per frame\n", name, fin, fout, sc, rd, wr, ep, sc / f, bytes / (name ~ /^linux->tern/ ? fin : fout)
            printf "  tern CPU %.0f ms over %.2f s wall (%.0f%% of one core), %.2f us CPU per frame, %d context switches\n", cpu, secs, cpu / 10 / secs, cpu * 1000 / f, cs
            printf "  meter CPU %.0f ms (%.0f%% of one core); the machine: %.0f ms busy, %.0f ms idle of %d CPUs, so others had ~%.0f ms\n", mcpu, mcpu / 10 / secs, busy * 10, idle * 10, (busy + idle) * 10 / 1000 / secs + 0.5, busy * 10 - cpu - mcpu
        }' "$2"
}

split() { # PERFDATA: share of samples in the kernel and in tern's own code
    perf report -i "$1" --stdio --no-children --sort dso 2>/dev/null | awk '
        /^ +[0-9.]+%/ { p = $1; sub("%", "", p); if ($2 ~ /kernel/) k += p; else if ($2 ~ /tern-linux/) t += p; else o += p }
        END { printf "  samples: kernel %.0f%%, tern-linux %.0f%%, libc/vdso/other %.0f%%\n", k, t, o }'
}
echo "transfer: $mib MiB each way; Linux congestion control $(ip netns exec "$ns1" sysctl -n net.ipv4.tcp_congestion_control); load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Linux -> tern (discard): perf stat over the transfer, then a sample.
start_tern
p0=$(pkts)
perf stat -x, -o "$tmp/stat" -e "$events" -p "$pid" &
spid=$!
c0=$(cpu_ticks)
t0=$(date +%s.%N)
rx=$(perf stat -x, -o "$tmp/mstat" -e task-clock \
    ip netns exec "$ns1" taskset -c 0 "$meter" send 192.0.2.10 9 "$bytes")
t1=$(date +%s.%N)
c1=$(cpu_ticks)
kill -INT $spid; wait $spid || true
p1=$(pkts)
sed -i 's/^\([0-9.]*\),[^,]*,\([^,]*\),.*/\1 \2/' "$tmp/stat"
report "linux->tern $(echo "$rx" | cut -d' ' -f3) Mbit/s" "$tmp/stat" "$p0" "$p1" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$tmp/mstat" "$c0" "$c1"
perf record -q -F 999 -g -o "$tmp/perf.rx" -p "$pid" 2>/dev/null &
rpid=$!
ip netns exec "$ns1" taskset -c 0 "$meter" send 192.0.2.10 9 "$bytes" >/dev/null
kill -INT $rpid; wait $rpid || true
echo "  top symbols (self, % of tern's samples):"
perf report -i "$tmp/perf.rx" --stdio --no-children --sort sym 2>/dev/null |
    { grep -E '^ +[0-9.]+%' || echo ' (no samples: the transfer was shorter than the sampling)'; } |
    head -12 | sed 's/^/   /'
    split "$tmp/perf.rx"
stop_tern

# tern -> Linux (--tcp-send to a Linux listener), same measurements.
perf stat -x, -o "$tmp/mstat" -e task-clock \
    ip netns exec "$ns1" taskset -c 0 "$meter" recv 5003 >"$tmp/rx" &
mpid=$!
wait_line "$tmp/rx" listening 5
start_tern --tcp-send 192.0.2.1:5003:"$bytes"
p0=$(pkts)
perf stat -x, -o "$tmp/stat" -e "$events" -p "$pid" &
spid=$!
c0=$(cpu_ticks)
t0=$(date +%s.%N)
wait "$mpid"
t1=$(date +%s.%N)
c1=$(cpu_ticks)
kill -INT $spid; wait $spid || true
p1=$(pkts)
sed -i 's/^\([0-9.]*\),[^,]*,\([^,]*\),.*/\1 \2/' "$tmp/stat"
report "tern->linux $(tail -1 "$tmp/rx" | cut -d' ' -f3) Mbit/s" "$tmp/stat" "$p0" "$p1" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$tmp/mstat" "$c0" "$c1"
stop_tern
ip netns exec "$ns1" taskset -c 0 "$meter" recv 5003 >"$tmp/rx" &
mpid=$!
wait_line "$tmp/rx" listening 5
start_tern --tcp-send 192.0.2.1:5003:"$bytes"
perf record -q -F 999 -g -o "$tmp/perf.tx" -p "$pid" 2>/dev/null &
rpid=$!
wait "$mpid"
kill -INT $rpid; wait $rpid || true
echo "  top symbols (self, % of tern's samples):"
perf report -i "$tmp/perf.tx" --stdio --no-children --sort sym 2>/dev/null |
    { grep -E '^ +[0-9.]+%' || echo ' (no samples: the transfer was shorter than the sampling)'; } |
    head -12 | sed 's/^/   /'
    split "$tmp/perf.tx"
stop_tern
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
