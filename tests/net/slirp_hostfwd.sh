#!/usr/bin/env bash
# The default slirp network: tern-linux starts restricted slirp with a
# --hostfwd; a host connection to the loopback port must arrive at the
# guest as a TCP SYN to 192.0.2.15:GUESTPORT (slirp's fds and timers run on
# the libuv loop), seen in the --pcap file by tshark. No root needed.
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

"$tern" --hostfwd "tcp:127.0.0.1:$port-:8080" --pcap "$tmp/slirp.pcap" >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_NET_UP if=net0 ip=192.0.2.15/24 gw=192.0.2.2 mtu=1500 via=static' 10 "$pid"

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
