#!/usr/bin/env bash
# Connections accepted and closed per second: tern-linux's echo service
# over TAP against bench/net/epoll_echo on the Linux stack over a veth
# pair, the same client (bench/net/conn_load cycle) for both, alternating
# in one invocation, all in network namespaces this script creates.
# Each connection: connect, send 1 byte, half-close, read the echo and
# the server's FIN, close. Servers run on CPU 1, the client on CPU 0.
# Needs root.
# usage: bench/net/conn_rate.sh BUILD_DIR [COUNT] [RUNS] [CONCURRENCY]
#        (defaults 5000 connections per run, 3 runs, 16 in flight)
set -euo pipefail
build=$1
count=${2:-5000}
runs=${3:-3}
conc=${4:-16}
tern=$build/backends/linux/tern-linux
load=$build/bench/net/conn_load
echo_srv=$build/bench/net/epoll_echo
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
for f in "$tern" "$load" "$echo_srv"; do [ -x "$f" ] || { echo "missing $f"; exit 1; }; done
tmp=$(mktemp -d)
ns1=tern-cr-a-$$ ns2=tern-cr-b-$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    ip netns del "$ns1" 2>/dev/null || true
    ip netns del "$ns2" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns1"
ip netns add "$ns2"

wait_line() { # FILE REGEX SECONDS
    for _ in $(seq $(( $3 * 50 ))); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
    echo "timeout waiting for /$2/ in $1" >&2; cat "$1" >&2; exit 1
}

# The client namespace: every ephemeral port, TIME-WAIT reuse for the
# client's actively closed connections (both are per-namespace sysctls).
ip netns exec "$ns1" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
ip netns exec "$ns1" sysctl -qw net.ipv4.tcp_tw_reuse=1
ip -n "$ns1" link set lo up

# Linux server over veth.
ip link add vc0 netns "$ns1" type veth peer name vc1 netns "$ns2"
ip -n "$ns1" addr add 198.51.100.1/24 dev vc0
ip -n "$ns2" addr add 198.51.100.2/24 dev vc1
ip -n "$ns1" link set vc0 up
ip -n "$ns2" link set vc1 up
ip netns exec "$ns2" taskset -c 1 "$echo_srv" 7 3600 >"$tmp/epoll" 2>&1 &
epid=$!
pids+=($epid)
wait_line "$tmp/epoll" listening 5

# tern-linux over TAP.
ip netns exec "$ns1" taskset -c 1 "$tern" --net tap:tc0 --ip 192.0.2.10/24 \
    --services echo --tcp-conns 256 >"$tmp/tern" 2>&1 &
tpid=$!
pids+=($tpid)
wait_line "$tmp/tern" '^TERN_NET_UP' 10
ip -n "$ns1" addr add 192.0.2.1/24 dev tc0
ip -n "$ns1" link set tc0 up

# one HOST SERVER_PID -> "conns/s server_cpu_us/conn client_cpu_us/conn"
# (server CPU from /proc/PID/schedstat: on-CPU time, user and kernel,
# including the kernel work done in its syscalls, e.g. tern's TAP writes).
oncpu() { cut -d' ' -f1 "/proc/$1/schedstat"; }
one() {
    local out c0 c1
    c0=$(oncpu "$2")
    out=$(ip netns exec "$ns1" taskset -c 0 "$load" cycle "$1" 7 "$count" "$conc" 60) || {
        echo "conn_load against $1 failed: $out" >&2; exit 1; }
    c1=$(oncpu "$2")
    echo "$(echo "$out" | sed -n 's/.*conns_per_sec=\([0-9]*\).*/\1/p')" \
         "$(awk -v a="$c0" -v b="$c1" -v n="$count" 'BEGIN { printf "%.1f", (b - a) / 1000 / n }')" \
         "$(echo "$out" | sed -n 's/.*cpu_us_per_conn=\([0-9.]*\).*/\1/p')"
}
one 192.0.2.10 "$tpid" >/dev/null # warm-up: ARP, caches
one 198.51.100.2 "$epid" >/dev/null

echo "connections per run: $count, $conc in flight, client CPU 0, servers CPU 1"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(srv/cli us: server / client process CPU per connection, user + kernel)"
printf '%-4s %9s %7s %7s | %9s %7s %7s | %6s\n' run tern/s srv_us cli_us linux/s srv_us cli_us ratio
for r in $(seq "$runs"); do
    read -r t ts tc <<<"$(one 192.0.2.10 "$tpid")"
    read -r l ls lc <<<"$(one 198.51.100.2 "$epid")"
    printf '%-4s %9s %7s %7s | %9s %7s %7s | %6s\n' "$r" "$t" "$ts" "$tc" "$l" "$ls" "$lc" \
        "$(awk -v a="$t" -v b="$l" 'BEGIN { printf "%.2f", a / b }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
