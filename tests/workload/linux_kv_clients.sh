#!/usr/bin/env bash
# kv's threaded routes on tern-linux, from a Tern disk image as on bare
# metal, over a TAP in a network namespace this test creates (tern-linux
# at 192.0.2.10, the kernel's side 192.0.2.1: libslirp's host forward
# listens with a backlog of one, which drops a burst of connects), with
# curl in the namespace as the clients: four slow clients (watches, GET
# /kv/KEY?wait=30) each hold one of kv's eight workers, and meanwhile 32
# concurrent clients (a PUT then a GET each, 64 requests) are all
# answered; a fifth watch is refused (503, kv keeps workers for the
# rest); a 60 KB value (more than the HTTP output buffer) comes back whole;
# then a PUT of each watched key ends its watch with the new value.
# usage: linux_kv_clients.sh TERN_LINUX TERN_MKIMAGE KV_ELF SOURCE_ROOT
# Root for the namespace and the TAP (skips otherwise).
set -u
tern=$1 mkimage=$2 kv=$3 root=$4
. "$root/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (TAP device and network namespace)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in curl ip; do command -v $t >/dev/null || skip "$t not installed"; done
tmp=$(mktemp -d)
ns=tern-kvc-$$
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
expect() { [ "$2" = "$3" ] || { tail -20 "$tmp/out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }
ip netns add "$ns" || skip "cannot create a network namespace here"
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap
nsx ip addr add 192.0.2.1/24 dev tap0
nsx ip link set tap0 up
C="nsx curl -sS --max-time 10"

mkdir -p "$tmp/esp/tern" "$tmp/data"
cp "$root/fixtures/manifests/kv.json" "$tmp/esp/tern/manifest.json"
cp "$kv" "$tmp/esp/tern/kv.elf"
"$mkimage" --output "$tmp/disk.img" --size 48 --esp "$tmp/esp" --data "$tmp/data" --quiet || fail "mkimage"
nsx "$tern" --disk "$tmp/disk.img" --net tap:tap0 --ip 192.0.2.10/24 --gw 192.0.2.1 \
    >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_READY http=80 .*app=kv' 15 "$pid"
H="http://192.0.2.10"
grep -q 'kv: http workers: 8, queue 256' "$tmp/out" || fail "kv did not start its workers"

for w in 1 2 3 4; do
    expect "PUT w$w" "$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary "old$w" $H/kv/w$w)" 201
done

# The slow clients: each watch holds a worker until its key changes.
wpids=()
for w in 1 2 3 4; do
    nsx curl -sS --max-time 40 -o "$tmp/watch.$w" -w '%{http_code}' "$H/kv/w$w?wait=30" >"$tmp/watch.$w.code" &
    wpids+=($!)
done
for w in 1 2 3 4; do
    wait_for_marker "$tmp/out" "info kv: watch w$w for 30 s" 10 "$pid"
done
expect "a fifth watch is refused" "$($C -w '|%{http_code}' "$H/kv/w1?wait=1")" "too many watches
|503"
echo "ok - four watches hold four workers"

# Many clients at once while the watches wait: every one answered.
for i in $(seq 1 32); do
    ( p=$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary "value-$i" $H/kv/c$i)
      g=$($C $H/kv/c$i)
      echo "$p $g" >"$tmp/client.$i" ) &
done
for i in $(seq 1 32); do
    while [ ! -s "$tmp/client.$i" ]; do
        kill -0 "$pid" || fail "tern-linux died"
        sleep 0.05
    done
done
for i in $(seq 1 32); do
    expect "client $i: PUT 201 and GET its value while the watches wait" "$(cat "$tmp/client.$i")" "201 value-$i"
done
for w in 1 2 3 4; do
    kill -0 "${wpids[$((w - 1))]}" 2>/dev/null || fail "watch $w ended before its key changed: $(cat "$tmp/watch.$w" "$tmp/watch.$w.code")"
done
echo "ok - 32 concurrent clients answered while all four watches still wait"
# A value larger than the HTTP output buffer streams back whole from a
# worker's buffer.
head -c 60000 /dev/urandom >"$tmp/big"
expect "PUT 60 KB" "$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$tmp/big" $H/kv/big)" 201
$C -o "$tmp/big.got" $H/kv/big || fail "GET 60 KB"
cmp -s "$tmp/big" "$tmp/big.got" || fail "GET 60 KB: $(stat -c %s "$tmp/big.got") bytes, not the value"
echo "ok - a 60 KB value streams back whole"
keys=$($C $H/kv/)
for i in 1 16 32; do
    case $keys in *\"c$i\"*) ;; *) fail "the listing lacks c$i: $keys" ;; esac
done
echo "ok - the listing has the clients' keys"

# A change of each watched key ends its watch with the new value.
for w in 1 2 3 4; do
    expect "PUT w$w again" "$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary "new$w" $H/kv/w$w)" 200
    wait "${wpids[$((w - 1))]}" || fail "watch $w failed"
    expect "watch $w answered with the new value" "$(cat "$tmp/watch.$w")|$(cat "$tmp/watch.$w.code")" "new$w|200"
done
kill -0 "$pid" || fail "tern-linux died"
grep -E 'TERN_PANIC|TERN_APP_EXIT' "$tmp/out" && fail "the app or the OS ended"
kill -TERM "$pid"; wait "$pid"; pid=
echo "linux_kv_clients: all passed"
