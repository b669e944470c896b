#!/usr/bin/env bash
# Memory per idle TCP connection and the footprint at N (default 1,000)
# concurrent idle connections: tern-linux's echo service over TAP, read
# from its /status JSON (heap size/in_use/peak, tcp.pcbs_in_use) at 0 and
# at N connections held open by bench/net/conn_load hold; then the same N
# idle connections to bench/net/epoll_echo on the Linux stack over veth,
# read from /proc/slabinfo (active objects x object size of the socket
# caches) and /proc/net/sockstat. All in namespaces this script creates.
# Needs root.
# usage: bench/net/conn_mem.sh BUILD_DIR [N] [BUF_KIB...]
#        (default N 1000; one tern run per BUF_KIB, default "64 4"; the
#        word "default" runs tern-linux without --tcp-conns, --tcp-buf and
#        --mem: its default pool, N capped at what that pool holds)
set -euo pipefail
build=$1
n=${2:-1000}
shift 2 || shift $#
bufs=("$@")
[ ${#bufs[@]} -gt 0 ] || bufs=(64 4)
tern=$build/backends/linux/tern-linux
load=$build/bench/net/conn_load
echo_srv=$build/bench/net/epoll_echo
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
for f in "$tern" "$load" "$echo_srv"; do [ -x "$f" ] || { echo "missing $f"; exit 1; }; done
tmp=$(mktemp -d)
ns1=tern-cm-a-$$ ns2=tern-cm-b-$$
pids=()
cleanup() {
    exec 7>&- 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    ip netns del "$ns1" 2>/dev/null || true
    ip netns del "$ns2" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns1"
ip netns add "$ns2"
ip netns exec "$ns1" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"

wait_line() { # FILE REGEX SECONDS
    for _ in $(seq $(( $3 * 50 ))); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
    echo "timeout waiting for /$2/ in $1" >&2; cat "$1" >&2; exit 1
}
json() { # JSON KEY.PATH
    python3 -c 'import json,sys; v=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"
}
status() { ip netns exec "$ns1" curl -sf --max-time 5 http://192.0.2.10/status; }

# hold_start HOST PORT: N idle connections, held until hold_stop.
hold_start() {
    rm -f "$tmp/fifo" && mkfifo "$tmp/fifo"
    ip netns exec "$ns1" "$load" hold "$1" "$2" "$n" 120 <"$tmp/fifo" >"$tmp/hold" 2>&1 &
    hold_pid=$!
    exec 7>"$tmp/fifo"
    wait_line "$tmp/hold" '^held ' 60
    grep -q "^held $n failed=0" "$tmp/hold" || { cat "$tmp/hold" >&2; exit 1; }
}
hold_stop() {
    exec 7>&-
    wait "$hold_pid" || { echo "conn_load hold:" >&2; cat "$tmp/hold" >&2; exit 1; }
}

echo "idle connections: $n; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
conns=$((n + 16)) # the echo listener, HTTP's listener and its request
base=16           # the same instance with 16 control blocks: the rest of it
i=0
# start_tern CONNS KIB: tern-linux on tap tmI at 192.0.2.10; sets tpid, mem.
# KIB "default": no --tcp-buf and no --mem; CONNS "default": no --tcp-conns.
start_tern() {
    i=$((i + 1))
    local opts=()
    if [ "$2" = default ]; then
        mem=default
    else
        mem=$(( ($1 * $2 * 2 + 1023) / 1024 + 32 ))
        opts+=(--tcp-buf "$2" --mem "$mem")
    fi
    [ "$1" = default ] || opts+=(--tcp-conns "$1")
    ip netns exec "$ns1" "$tern" --net tap:tm$i --ip 192.0.2.10/24 --services echo \
        "${opts[@]}" >"$tmp/tern$i" 2>&1 &
    tpid=$!
    pids+=($tpid)
    wait_line "$tmp/tern$i" '^TERN_NET_UP' 10
    ip -n "$ns1" addr add 192.0.2.1/24 dev tm$i
    ip -n "$ns1" link set tm$i up
}
stop_tern() {
    kill "$tpid"; wait "$tpid" 2>/dev/null || true
    ip netns exec "$ns1" ip link del tm$i 2>/dev/null || true
}
rss() { awk '/^VmRSS/ { print $2 }' /proc/$1/status; }
n_arg=$n
for kib in "${bufs[@]}"; do
    n=$n_arg conns=$((n + 16))
    start_tern "$base" "$kib"
    sb=$(status); rssb=$(rss "$tpid")
    stop_tern
    if [ "$kib" = default ]; then
        start_tern default default
        s0=$(status)
        # the default pool's size (older builds do not report it: 64)
        conns=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tcp"].get("pcbs", 64))' "$s0")
        [ "$n" -le $((conns - 16)) ] || n=$((conns - 16))
        echo "default pool: $conns control blocks; holding $n"
    else
        start_tern "$conns" "$kib"
        s0=$(status)
    fi
    rss0=$(rss "$tpid")
    hold_start 192.0.2.10 7
    s1=$(status); rss1=$(rss "$tpid")
    hold_stop
    stop_tern
    ub=$(json "$sb" heap.in_use) u0=$(json "$s0" heap.in_use) u1=$(json "$s1" heap.in_use)
    p0=$(json "$s0" tcp.pcbs_in_use) p1=$(json "$s1" tcp.pcbs_in_use)
    per=$(( (u0 - ub) / (conns - base) ))
    [ "$((p1 - p0))" = "$n" ] || { echo "pcbs_in_use went $p0 -> $p1, not +$n" >&2; exit 1; }
    [ "$u1" = "$u0" ] || echo "  NOTE: heap in_use grew with live connections: $u0 -> $u1"
    echo "tern --tcp-conns $conns --tcp-buf $kib --mem $mem (default: none given):"
    echo "  heap in_use: $ub with $base blocks; $u0 with $conns blocks at 0 conns" \
         "(pcbs_in_use $p0); $u1 at $n conns (pcbs_in_use $p1); peak $(json "$s1" heap.peak)"
    split="2 x $kib KiB buffers + $((per - 2 * ${kib/default/4} * 1024)) B block"
    [ "$kib" != default ] || split="4 KiB buffers each way + $((per - 8192)) B block, in the new defaults"
    echo "  per control block: $per B (= $split);" \
         "growth with $n live: $((u1 - u0)) B; stack's TCP footprint at $n: $((per * n)) B"
    echo "  process RSS: $rssb KiB with $base blocks, $rss0 KiB with $conns at 0 conns," \
         "$rss1 KiB at $n conns (resident per block $(( (rss0 - rssb) * 1024 / (conns - base) )) B," \
         "per live idle conn $(( (rss1 - rss0) * 1024 / n )) B)"
done

# Linux: the same N idle connections to an epoll server over veth.
slab() { # total bytes of the socket-related slab caches (active objects)
    awk '$1 ~ /^(TCP|sock_inode_cache|filp|dentry|eventpoll_epi|eventpoll_pwq)$/ { t += $2 * $4 }
         END { print t }' /proc/slabinfo
}
ip link add vm0 netns "$ns1" type veth peer name vm1 netns "$ns2"
ip -n "$ns1" addr add 198.51.100.1/24 dev vm0
ip -n "$ns2" addr add 198.51.100.2/24 dev vm1
ip -n "$ns1" link set vm0 up
ip -n "$ns2" link set vm1 up
ip netns exec "$ns2" "$echo_srv" 7 300 >"$tmp/epoll" 2>&1 &
epid=$!
pids+=($epid)
wait_line "$tmp/epoll" listening 5
b0=$(slab); m0=$(ip netns exec "$ns2" awk '/^TCP:/ { print $NF }' /proc/net/sockstat)
erss0=$(awk '/^VmRSS/ { print $2 }' /proc/$epid/status)
hold_start 198.51.100.2 7
b1=$(slab); m1=$(ip netns exec "$ns2" awk '/^TCP:/ { print $NF }' /proc/net/sockstat)
erss1=$(awk '/^VmRSS/ { print $2 }' /proc/$epid/status)
inuse=$(ip netns exec "$ns2" awk '/^TCP:/ { print $3 }' /proc/net/sockstat)
hold_stop
echo "linux (epoll_echo over veth), $n connections = $((2 * n)) sockets (client and server ends):"
echo "  server namespace TCP inuse $inuse; socket slab caches +$((b1 - b0)) B" \
     "= $(( (b1 - b0) / (2 * n) )) B per socket; sockstat TCP mem $m0 -> $m1 pages (system-wide)"
echo "  epoll_echo RSS ${erss0} -> ${erss1} KiB"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
