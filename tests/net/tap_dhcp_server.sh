#!/usr/bin/env bash
# tern-linux as a DHCP server (--dhcp-server) with real Linux clients as
# referees: busybox udhcpc in network namespaces this test creates.
#
#   ns lan:  tern-linux on TAP tds0 (192.0.2.1/24), bridged (br0) with
#            two veths; br0 itself squats on 192.0.2.101
#   ns cli1: udhcpc on vc1     ns cli2: udhcpc -a (ARP check) on vc2
#
# cli1 gets 192.0.2.100 with the mask, router, DNS servers, domain and
# lease time it was given and applies them (address, default route; it
# pings tern at the router address); /status counts the lease; a renewal
# (SIGUSR1) keeps the address; tern-linux restarts and, with its lease
# file, ACKs cli1's next renewal; cli2 is offered 192.0.2.101, finds it in
# use (br0 answers ARP), DECLINEs it and gets 192.0.2.102; cli1's RELEASE
# (SIGUSR2) frees 192.0.2.100; cli2's release just before tern-linux
# stops is in the lease file it writes at exit. Needs root.
# usage: tap_dhcp_server.sh TERN_LINUX
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
tern=$1

[ "$(id -u)" = 0 ] || skip "needs root (TAP device and network namespaces)"
for tool in ip ping curl busybox python3; do
    command -v $tool >/dev/null || skip "$tool not installed (scripts/install-deps.sh test)"
done
busybox udhcpc --help >/dev/null 2>&1 || skip "this busybox has no udhcpc"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

lan=tern-dsl-$$ cli1=tern-dsc1-$$ cli2=tern-dsc2-$$
tmp=$(mktemp -d)
pid= c1= c2=
cleanup() {
    for p in $c1 $c2 $pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    for ns in $lan $cli1 $cli2; do ip netns del "$ns" 2>/dev/null || true; done
    [ -n "${KEEP_TMP:-}" ] && cp -r "$tmp" /tmp/x/keep; rm -rf "$tmp"
}
trap cleanup EXIT
for ns in $lan $cli1 $cli2; do
    ip netns add "$ns" || skip "cannot create a network namespace here"
    ip netns exec "$ns" ip link set lo up
done
inlan() { ip netns exec "$lan" "$@"; }
inlan ip link add br0 type bridge
inlan ip link set br0 up
for i in 1 2; do
    inlan ip link add vl$i type veth peer name vc$i
    eval "ns=\$cli$i"
    inlan ip link set vc$i netns "$ns"
    inlan ip link set vl$i master br0 up
    ip netns exec "$ns" ip link set vc$i up
done
inlan ip addr add 192.0.2.101/24 dev br0          # a host already using .101

# udhcpc's event script: one line per event with what it was given, and
# the address and default route applied as a real client does.
cat >"$tmp/event.sh" <<'EOF'
#!/bin/sh
echo "event=$1 ip=$ip mask=$mask subnet=$subnet router=$router dns=$(echo $dns | tr ' ' +) domain=$domain lease=$lease serverid=$serverid" >>"$EVENTS"
case "$1" in
bound|renew)
    ip addr replace "$ip/$mask" dev "$interface"
    ip route replace default via "$router" dev "$interface" ;;
deconfig)
    ip addr flush dev "$interface" ;;
esac
EOF
chmod +x "$tmp/event.sh"

start_tern() { # log file
    ip netns exec "$lan" "$tern" --net tap:tds0 --ip 192.0.2.1/24 \
        --dhcp-server 192.0.2.100-192.0.2.110,router=192.0.2.1,dns=192.0.2.53+192.0.2.54,domain=example.test,lease=600 \
        --dhcp-lease-file "$tmp/leases" >"$1" 2>&1 &
    pid=$!
    wait_for_marker "$1" '^TERN_READY' 10 "$pid"
    inlan ip link set tds0 master br0 up
}
udhcpc() { # ns iface events-file extra-args...
    local ns=$1 dev=$2 ev=$3; shift 3
    EVENTS=$ev ip netns exec "$ns" busybox udhcpc -f -i "$dev" -s "$tmp/event.sh" -t 5 -T 2 "$@" \
        >"$ev.log" 2>&1 &
}
status() { ip netns exec "$cli1" curl -sf --max-time 5 http://192.0.2.1/status; }
status_field() { # key under dhcp_server
    status | python3 -c "import json,sys; print(json.load(sys.stdin)['dhcp_server']['$1'])"
}

start_tern "$tmp/out1"
echo "ok: tern-linux serves DHCP on tds0"

# 1. a lease with every option, applied
udhcpc "$cli1" vc1 "$tmp/ev1" -x hostname:bbox1
c1=$!
wait_for_marker "$tmp/ev1" '^event=bound' 20 "$c1"
line=$(grep -m1 '^event=bound' "$tmp/ev1")
expect="event=bound ip=192.0.2.100 mask=24 subnet=255.255.255.0 router=192.0.2.1 dns=192.0.2.53+192.0.2.54 domain=example.test lease=600 serverid=192.0.2.1"
[ "$line" = "$expect" ] || fail "udhcpc was given: $line"
addrs=$(ip netns exec "$cli1" ip -4 addr show vc1)   # captured: no SIGPIPE under pipefail
routes=$(ip netns exec "$cli1" ip route)
grep -q 'inet 192.0.2.100/24' <<<"$addrs" || fail "address not applied: $addrs"
grep -q '^default via 192.0.2.1 dev vc1' <<<"$routes" || fail "route not applied: $routes"
ip netns exec "$cli1" ping -c 1 -W 2 192.0.2.1 >/dev/null || fail "no ping answer from tern"
grep -q 'dhcp-server: lease 192.0.2.100 to .* bbox1' "$tmp/out1" || fail "no lease line in tern's log"
[ "$(status_field bound)" = 1 ] || fail "/status: $(status)"
echo "ok: udhcpc bound 192.0.2.100/24, router, 2 DNS servers, domain, 600 s; applied; /status bound=1"

# 2. a renewal keeps the address (unicast REQUEST with ciaddr)
acks=$(status_field acks)
kill -USR1 "$c1"
wait_for_marker "$tmp/ev1" '^event=renew ip=192\.0\.2\.100 ' 10 "$c1"
[ "$(status_field acks)" -gt "$acks" ] || fail "no ACK counted for the renewal"
echo "ok: renewal ACKed, same address"

# 3. the lease file carries the lease over a restart of the server
wait_for_marker "$tmp/leases" '^lease 192\.0\.2\.100 bound [0-9]+ .* bbox1$' 5
kill -TERM "$pid"
wait "$pid" || fail "tern-linux exited with $?"
grep -q '^TERN_HALT code=0' "$tmp/out1" || fail "no orderly halt"
start_tern "$tmp/out2"
grep -q 'dhcp-server: lease file: 1 leases loaded, 0 skipped' "$tmp/out2" || fail "lease file not loaded"
ip netns exec "$cli1" ip neigh flush dev vc1      # tern has a new MAC each run
renews=$(grep -c '^event=renew' "$tmp/ev1")
kill -USR1 "$c1"
for _ in $(seq 100); do
    [ "$(grep -c '^event=renew ip=192\.0\.2\.100 ' "$tmp/ev1")" -gt "$renews" ] && break
    sleep 0.1
done
[ "$(grep -c '^event=renew ip=192\.0\.2\.100 ' "$tmp/ev1")" -gt "$renews" ] ||
    fail "no renewal after the restart: $(tail -3 "$tmp/ev1.log")"
[ "$(status_field drop_unknown)" = 0 ] || fail "the restarted server did not know the client"
echo "ok: after a restart with the lease file the renewal is ACKed"

# 4. DECLINE: cli2 finds .101 in use (br0 answers its ARP) and gets .102
udhcpc "$cli2" vc2 "$tmp/ev2" -a -A 2    # -A 2: it waits 2 s after its decline, not 20
c2=$!
wait_for_marker "$tmp/ev2" '^event=bound ip=192\.0\.2\.102 ' 30 "$c2"
grep -q 'dhcp-server: 192.0.2.101 declined by' "$tmp/out2" || fail "no decline in tern's log"
[ "$(status_field declines)" = 1 ] || fail "/status: $(status)"
grep -q '^lease 192\.0\.2\.101 declined ' "$tmp/leases" ||
    { sleep 1.5; grep -q '^lease 192\.0\.2\.101 declined ' "$tmp/leases"; } ||
    fail "the declined address is not in the lease file"
echo "ok: udhcpc -a declined 192.0.2.101 (in use), then bound 192.0.2.102"

# 5. RELEASE frees the address
kill -USR2 "$c1"
wait_for_marker "$tmp/out2" 'dhcp-server: 192\.0\.2\.100 released by' 10 "$pid"
[ "$(ip netns exec "$cli2" curl -sf --max-time 5 http://192.0.2.1/status |
    python3 -c "import json,sys; print(json.load(sys.stdin)['dhcp_server']['bound'])")" = 1 ] ||
    fail "bound after the release is not 1"
echo "ok: release freed 192.0.2.100"

# 6. what changed within the last second is written at exit
kill -USR2 "$c2"
wait_for_marker "$tmp/out2" 'dhcp-server: 192\.0\.2\.102 released by' 10 "$pid"
kill -TERM "$pid"
wait "$pid" || fail "tern-linux exited with $?"
pid=
grep -q '^lease 192\.0\.2\.100 free 0 ' "$tmp/leases" || fail "lease file at exit: $(cat "$tmp/leases")"
grep -q '^lease 192\.0\.2\.102 free 0 ' "$tmp/leases" || fail "lease file at exit: $(cat "$tmp/leases")"
python3 - "$tmp/leases" <<'PY' || fail "the lease file's CRC is not zlib's crc32 of its lines"
import sys, zlib
d = open(sys.argv[1], "rb").read()
i = d.rindex(b"end ")
n, crc = d[i:].split()[1:]
assert int(crc, 16) == zlib.crc32(d[:i]), "crc"
assert int(n) == d[:i].count(b"\nlease "), "count"
PY
echo "ok: the lease file written at exit has both releases, count and CRC check out"
echo "PASS"
