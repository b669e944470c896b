#!/usr/bin/env bash
# The default slirp network: tern-linux starts restricted slirp, takes its
# address from slirp's DHCP server (TERN_NET_UP via=dhcp, no gateway in
# restricted mode), and a host client reaches tern's TCP echo service
# through --hostfwd: 1 MiB echoed byte-exact. A second forward to a port
# nobody listens on must still show the SYN at 192.0.2.15 in the --pcap
# file, read by tshark. No root needed.
# usage: slirp_hostfwd.sh TERN_LINUX
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
tern=$1
command -v tshark >/dev/null || skip "tshark not installed (scripts/install-deps.sh test)"

tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

port2=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$tern" --services echo --hostfwd "tcp:127.0.0.1:$port-:8080" --hostfwd "tcp:127.0.0.1:$port2-:7" \
    --pcap "$tmp/slirp.pcap" >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_NET_UP if=net0 ip=192.0.2.15/24 gw=0.0.0.0 mtu=1500 via=dhcp' 10 "$pid"

if command -v socat >/dev/null; then
    head -c $((1 << 20)) /dev/urandom >"$tmp/bulk"
    timeout 60 socat -T 20 - "TCP:127.0.0.1:$port2" <"$tmp/bulk" >"$tmp/back" ||
        fail "socat through the forward failed"
    cmp -s "$tmp/bulk" "$tmp/back" || fail "echo through slirp: $(stat -c %s "$tmp/back") bytes, differ"
    echo "ok: 1 MiB echoed through slirp's --hostfwd"
fi

# A non-loopback forward is refused before anything starts.
if "$tern" --hostfwd "tcp:0.0.0.0:$port-:80" >"$tmp/bad" 2>&1; then
    fail "a non-loopback --hostfwd was accepted"
fi
grep -q "only loopback" "$tmp/bad" || fail "no reason given: $(cat "$tmp/bad")"

# Connect from the host; slirp forwards the connection attempt as a SYN.
(exec 3<>"/dev/tcp/127.0.0.1/$port" && sleep 3) 2>/dev/null &
conn=$!
syn='tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.dst == 192.0.2.15 && tcp.dstport == 8080'
deadline=$(( $(date +%s) + 10 ))
found=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    if [ "$(tshark -r "$tmp/slirp.pcap" -Y "$syn" 2>/dev/null | wc -l)" -ge 1 ]; then
        found=1
        break
    fi
    sleep 0.2
done
kill "$conn" 2>/dev/null || true
wait "$conn" 2>/dev/null || true
[ "$found" = 1 ] || { tshark -r "$tmp/slirp.pcap" 2>/dev/null; fail "no SYN for 192.0.2.15:8080 in the pcap"; }
echo "ok: host connection reached the guest through slirp"

kill -TERM "$pid"
wait "$pid" || fail "tern-linux exited with $?"
pid=
echo "PASS"
