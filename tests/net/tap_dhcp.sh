#!/usr/bin/env bash
# DHCP and DNS against dnsmasq over TAP in a network namespace this test
# creates: tern-linux (no --ip) gets a lease with router, MTU and DNS
# server, prints TERN_NET_UP via=dhcp, answers ping at the leased address,
# resolves a CNAME to an A record through dnsmasq with the lease's DNS
# server, and renews at T1 (dnsmasq sends T1 = 6 s, T2 = 9 s). Needs root.
# usage: tap_dhcp.sh TERN_LINUX
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
tern=$1

[ "$(id -u)" = 0 ] || skip "needs root (TAP device and network namespace)"
for tool in ip ping dnsmasq; do
    command -v $tool >/dev/null || skip "$tool not installed (scripts/install-deps.sh test)"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

ns=tern-dhcp-$$
tmp=$(mktemp -d)
pid=
dpid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || skip "cannot create a network namespace here"
ip netns exec "$ns" ip link set lo up

ip netns exec "$ns" "$tern" --net tap:tdh0 --pcap "$tmp/dhcp.pcap" \
    --resolve alias.example.test >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_BOOT_OK' 10 "$pid"
# the TAP exists once tern-linux is up; give the kernel side its address
ip netns exec "$ns" ip addr add 192.0.2.1/24 dev tdh0
ip netns exec "$ns" ip link set tdh0 up
ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null \
    --no-resolv --no-hosts --local-ttl=60 --address=/www.example.test/198.51.100.7 \
    --cname=alias.example.test,www.example.test \
    --interface=tdh0 --bind-interfaces --dhcp-authoritative \
    --dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,2m \
    --dhcp-option=option:router,192.0.2.1 --dhcp-option=option:mtu,1400 \
    --dhcp-option=option:T1,6 --dhcp-option=option:T2,9 \
    --dhcp-leasefile="$tmp/leases" --pid-file="$tmp/dnsmasq.pid" \
    --log-dhcp --log-facility="$tmp/dnsmasq.log" &
dpid=$!

# discovery retransmits back off 4, 8, 16 s: an offer arrives within ~30 s
wait_for_marker "$tmp/out" '^TERN_NET_UP if=net0 ip=192\.0\.2\.(5[0-9]|60)/24 gw=192\.0\.2\.1 mtu=1400 via=dhcp' 40 "$pid"
ip=$(marker_field "$tmp/out" TERN_NET_UP ip)
ip=${ip%/24}
echo "ok: lease $ip from dnsmasq"
grep -q "$ip" "$tmp/leases" || fail "dnsmasq has no lease for $ip"

ip netns exec "$ns" ping -c 2 -i 0.2 -W 2 "$ip" >/dev/null || fail "no ping answer at $ip"
echo "ok: ping at the leased address"

wait_for_marker "$tmp/out" 'dns: alias\.example\.test -> 198\.51\.100\.7 ttl=60' 15 "$pid"
echo "ok: $(grep -o 'dns: alias.*' "$tmp/out")"

wait_for_marker "$tmp/out" 'dhcp: lease renewed' 20 "$pid"
echo "ok: renewed at T1"
grep -q "DHCPACK(tdh0) $ip" "$tmp/dnsmasq.log" || fail "dnsmasq log shows no ACK for $ip"
[ "$(grep -c "DHCPACK(tdh0) $ip" "$tmp/dnsmasq.log")" -ge 2 ] || fail "dnsmasq acked only once"

kill -TERM "$pid"
wait "$pid" || fail "tern-linux exited with $?"
pid=

if command -v tshark >/dev/null; then
    reqs=$(tshark -r "$tmp/dhcp.pcap" -Y 'dhcp.option.dhcp == 3 && ip.dst == 192.0.2.1' 2>/dev/null | wc -l)
    [ "$reqs" -ge 1 ] || fail "no unicast DHCPREQUEST (renewal) to the server in the pcap"
    bad=$(tshark -r "$tmp/dhcp.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
        -Y 'ip.checksum.status == 0 || udp.checksum.status == 0' 2>/dev/null | wc -l)
    [ "$bad" -eq 0 ] || fail "$bad frames with bad checksums"
    echo "ok: tshark sees the unicast renewal, checksums good"
fi
echo "PASS"
