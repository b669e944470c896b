#!/usr/bin/env bash
# Two tern-linux processes on one wire: A answers UDP echo, B probes it
# (--udp-probe) until the echo comes back, and B sends 8 MiB over TCP
# (--tcp-send) to A's checking sink (--tcp-sink): ARP, UDP and TCP between
# two instances of Tern's own stack, no root, no kernel in between.
# usage: wire_two_terns.sh TERN_LINUX
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
tern=$1
tmp=$(mktemp -d)
pa= pb=
cleanup() {
    [ -n "$pa" ] && kill "$pa" 2>/dev/null && wait "$pa" 2>/dev/null
    [ -n "$pb" ] && kill "$pb" 2>/dev/null && wait "$pb" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

"$tern" --net "wire:$tmp/a.sock,$tmp/b.sock" --ip 192.0.2.10/24 --udp-echo 7 \
    --tcp-sink 5001 >"$tmp/a.out" 2>&1 &
pa=$!
wait_for_marker "$tmp/a.out" '^TERN_NET_UP if=net0 ip=192.0.2.10/24' 10 "$pa"
"$tern" --net "wire:$tmp/b.sock,$tmp/a.sock" --ip 192.0.2.11/24 --udp-probe 192.0.2.10:7 \
    --tcp-send 192.0.2.10:5001:8388608 >"$tmp/b.out" 2>&1 &
pb=$!
wait_for_marker "$tmp/b.out" 'udp probe: reply from 192\.0\.2\.10:7 bytes=' 15 "$pb"
echo "ok: $(grep -o 'udp probe: .*' "$tmp/b.out")"
wait_for_marker "$tmp/a.out" 'tcp sink: 8388608 bytes from 192\.0\.2\.11:[0-9]+ pattern=ok$' 30 "$pa"
echo "ok: $(grep -o 'tcp sink: .*' "$tmp/a.out")"
for p in "$pa" "$pb"; do
    kill -TERM "$p"
    wait "$p" || fail "tern-linux exited with $?"
done
pa= pb=
echo "PASS"
