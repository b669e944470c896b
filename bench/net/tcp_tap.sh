#!/usr/bin/env bash
# TCP bulk throughput: tern-linux over TAP against the Linux kernel, both
# directions, and Linux-to-Linux over a veth pair in the same run, all in
# network namespaces this script creates. Needs root.
# usage: bench/net/tcp_tap.sh BUILD/backends/linux/tern-linux [MIB]   (default 64 MiB per run)
# The Linux end of every transfer (both ends of the veth baseline) is
# BUILD/bench/net/tcp_meter (C; METER=PATH overrides): its receiver checks
# every byte against --tcp-send's pattern, tern's end of Linux -> tern is
# the discard service.
# TERN_ARGS="..." adds tern-linux options (e.g. "--tcp-buf 512 --mem 256").
# TAP_OPTS=",offload=off" measures the per-frame path (no IFF_VNET_HDR).
# CC=NAME sets the namespaces' TCP congestion control (default reno: the
# NewReno family tern implements, unpaced like tern's sender; CC= keeps
# the host's default, e.g. bbr, which paces Linux's sender).
set -euo pipefail
tern=$1
mib=${2:-64}
bytes=$((mib << 20))
meter=${METER:-$(cd "$(dirname "$tern")/../.." && pwd)/bench/net/tcp_meter}
[ -x "$meter" ] || { echo "no $meter: ninja -C BUILD bench/net/tcp_meter, or METER=PATH"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
tmp=$(mktemp -d)
ns1=tern-bench-a-$$ ns2=tern-bench-b-$$
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$ns1" 2>/dev/null || true
    ip netns del "$ns2" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns1"
ip netns add "$ns2"
cc=${CC-reno}
if [ -n "$cc" ]; then
    ip netns exec "$ns1" sysctl -qw net.ipv4.tcp_congestion_control="$cc"
    ip netns exec "$ns2" sysctl -qw net.ipv4.tcp_congestion_control="$cc"
fi
cc=$(ip netns exec "$ns1" sysctl -n net.ipv4.tcp_congestion_control)

wait_line() { # FILE REGEX SECONDS
    for _ in $(seq $(( $3 * 50 ))); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
    echo "timeout waiting for /$2/ in $1" >&2; cat "$1" >&2; exit 1
}

# --- Linux to Linux over veth ---
ip link add vb0 netns "$ns1" type veth peer name vb1 netns "$ns2"
ip -n "$ns1" addr add 198.51.100.1/24 dev vb0
ip -n "$ns2" addr add 198.51.100.2/24 dev vb1
ip -n "$ns1" link set vb0 up
ip -n "$ns2" link set vb1 up
ip netns exec "$ns2" "$meter" recv 5001 >"$tmp/veth" &
vpid=$!
wait_line "$tmp/veth" listening 5
ip netns exec "$ns1" "$meter" send 198.51.100.2 5001 "$bytes" >/dev/null
wait "$vpid" # exits 1 on a wrong byte
veth_rate=$(tail -1 "$tmp/veth" | cut -d' ' -f3)

# --- tern over TAP ---
ip netns exec "$ns1" "$meter" recv 5002 >"$tmp/rx" &
rpid=$!
wait_line "$tmp/rx" listening 5
ip netns exec "$ns1" "$tern" --net tap:tb0${TAP_OPTS:-} --ip 192.0.2.10/24 --services discard \
    ${TERN_ARGS:-} --tcp-send 192.0.2.1:5002:"$bytes" >"$tmp/out" 2>&1 &
pid=$!
wait_line "$tmp/out" '^TERN_NET_UP' 10
ip -n "$ns1" addr add 192.0.2.1/24 dev tb0
ip -n "$ns1" link set tb0 up
wait "$rpid"
tx_rate=$(tail -1 "$tmp/rx" | cut -d' ' -f3)
rx=$(ip netns exec "$ns1" "$meter" send 192.0.2.10 9 "$bytes")
rx_rate=$(echo "$rx" | cut -d' ' -f3)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "bytes per run: $bytes; Linux congestion control $cc; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "linux->linux veth:   $veth_rate Mbit/s"
echo "tern->linux  TAP:    $tx_rate Mbit/s  ($(ratio "$tx_rate" "$veth_rate")x veth)"
echo "linux->tern  TAP:    $rx_rate Mbit/s  ($(ratio "$rx_rate" "$veth_rate")x veth)"
