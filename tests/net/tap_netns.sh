#!/usr/bin/env bash
# Interop with the Linux kernel over TAP inside a network namespace this
# test creates: tern-linux creates the TAP, the kernel side gets
# 192.0.2.1/24. Checks ARP (the kernel's neighbour entry), ping with small
# and 8000-byte payloads (fragmented both ways), UDP echo via socat, and
# a 4 MiB TCP echo (Linux client, tern listener) byte-exact, 4 MiB sent
# by tern (--tcp-send) to a Linux listener and checked by hash, and
# tshark reading the --pcap file with every checksum good. Needs root.
# With offloads (the default: IFF_VNET_HDR, checksum and TSO both ways) it
# also checks that frames larger than the MTU crossed the TAP both ways
# and that the kernel counted no checksum errors; with "off" that no frame
# was larger than the MTU.
# usage: tap_netns.sh TERN_LINUX [on|off]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
tern=$1
offload=${2:-on}

[ "$(id -u)" = 0 ] || skip "needs root (TAP device and network namespace)"
for tool in ip ping socat sha256sum; do
    command -v $tool >/dev/null || skip "$tool not installed (scripts/install-deps.sh test)"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

ns=tern-tap-$$
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || skip "cannot create a network namespace here"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
# A Linux listener for tern's --tcp-send; tern's SYN retries cover the
# moment before the kernel side of the TAP is configured.
in_ns timeout 60 socat -u TCP-LISTEN:5001,reuseaddr "OPEN:$tmp/rx,creat,trunc" &
lpid=$!

ip netns exec "$ns" "$tern" --net tap:ttap0,offload=$offload --ip 192.0.2.10/24 --gw 192.0.2.1 --udp-echo 7 \
    --services echo,discard --tcp-send 192.0.2.1:5001:4194304 --pcap "$tmp/tap.pcap" >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_NET_UP if=net0 ip=192.0.2.10/24 gw=192.0.2.1 mtu=1500 via=static' 10 "$pid"

in_ns ip addr add 192.0.2.1/24 dev ttap0
in_ns ip link set ttap0 up

in_ns ping -c 3 -i 0.2 -W 2 192.0.2.10 >"$tmp/ping" || { cat "$tmp/ping" "$tmp/out"; fail "ping"; }
echo "ok: ping"
in_ns ping -c 3 -i 0.2 -W 2 -s 8000 192.0.2.10 >"$tmp/ping" ||
    { cat "$tmp/ping" "$tmp/out"; fail "ping -s 8000"; }
grep -q "8008 bytes from 192.0.2.10" "$tmp/ping" || fail "no 8008-byte replies"
echo "ok: ping with 8000-byte payloads"

# The kernel resolved us by ARP: its neighbour entry holds tern's MAC.
mac=$(in_ns cat /sys/class/net/ttap0/address)
neigh=$(in_ns ip neigh show 192.0.2.10 dev ttap0)
echo "$neigh" | grep -q "lladdr" || fail "no ARP entry for tern: $neigh"
echo "$neigh" | grep -qi "$mac" && fail "tern answered ARP with the TAP's own MAC"
echo "ok: ARP ($neigh)"

reply=$(echo "tern over tap" | in_ns timeout 5 socat -T 3 - UDP:192.0.2.10:7)
[ "$reply" = "tern over tap" ] || fail "UDP echo returned '$reply'"
echo "ok: UDP echo"

# TCP: a Linux client to tern's echo listener, 4 MiB byte-exact.
head -c $((4 << 20)) /dev/urandom >"$tmp/bulk"
in_ns timeout 60 socat -T 20 -b 65536 - TCP:192.0.2.10:7 <"$tmp/bulk" >"$tmp/back" ||
    fail "socat to the echo service failed"
want=$(sha256sum <"$tmp/bulk" | cut -d' ' -f1)
got=$(sha256sum <"$tmp/back" | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "TCP echo: $(stat -c %s "$tmp/back") bytes back, hash differs"
echo "ok: 4 MiB echoed over TCP byte-exact"

# Tern to a Linux listener: the pattern byte[i] = (i*31 + (i>>8)) & 0xff.
wait "$lpid" || fail "the Linux listener failed"
want=$(/usr/bin/python3 -c '
import hashlib,sys
n=4194304
b=bytes(((i*31+(i>>8))&0xff) for i in range(n))
print(hashlib.sha256(b).hexdigest())')
got=$(sha256sum <"$tmp/rx" | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "tern -> Linux: $(stat -c %s "$tmp/rx") bytes received, hash differs"
wait_for_marker "$tmp/out" 'tcp send: 4194304 bytes to 192\.0\.2\.1:5001' 5 "$pid"
echo "ok: 4 MiB from tern to a Linux listener byte-exact"

# What crossed the TAP: the kernel counts a TSO/coalesced frame once, so
# bytes per packet above the MTU mean offloaded frames.
stats=$(in_ns ip -s -j link show ttap0 | python3 -c 'import json,sys
s=json.load(sys.stdin)[0]["stats64"]
print(s["rx"]["bytes"] // max(s["rx"]["packets"], 1), s["tx"]["bytes"] // max(s["tx"]["packets"], 1))')
read -r from_tern to_tern <<<"$stats"
csum_errs=$(in_ns awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["InCsumErrors"] }' /proc/net/snmp)
ip_errs=$(in_ns awk '/^Ip:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["InHdrErrors"] }' /proc/net/snmp)
[ "$csum_errs" = 0 ] || fail "the kernel counted $csum_errs TCP checksum errors"
[ "$ip_errs" = 0 ] || fail "the kernel counted $ip_errs IP header errors"
if [ "$offload" = on ]; then
    [ "$from_tern" -gt 1514 ] || fail "offload on, yet tern's frames average $from_tern bytes"
    [ "$to_tern" -gt 1514 ] || fail "offload on, yet frames to tern average $to_tern bytes"
else
    [ "$from_tern" -le 1514 ] && [ "$to_tern" -le 1514 ] ||
        fail "offload off, yet frames average $from_tern / $to_tern bytes"
fi
echo "ok: offload=$offload: bytes per frame from tern $from_tern, to tern $to_tern; kernel checksum errors 0"

kill -TERM "$pid"
wait "$pid" || fail "tern-linux exited with $?"
pid=

if command -v tshark >/dev/null; then
    opts=(-r "$tmp/tap.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE)
    total=$(tshark "${opts[@]}" 2>/dev/null | wc -l)
    # Every frame counts, except one tshark flags by RFC 1624's letter: a
    # TCP checksum of 0xffff where it computes 0x0000, the other zero of
    # one's complement, which the kernel's own frames carry now and then
    # (1 run in 15 here with offload=off; receivers accept both).
    # Tern's frames get no such pass.
    bad=$(tshark "${opts[@]}" -Y '(ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 || tcp.checksum.status == 0) && !(ip.src == 192.0.2.1 && tcp.checksum == 0xffff && ip.checksum.status != 0)' 2>/dev/null | wc -l)
    [ "$total" -ge 20 ] || fail "pcap holds only $total frames"
    [ "$bad" -eq 0 ] || fail "$bad frames with bad checksums in the pcap"
    echo "ok: tshark read $total frames, no bad checksum"
fi
echo "PASS"
