#!/usr/bin/env bash
# tern-linux serving HTTP and HTTPS over TAP inside a network namespace this
# test creates (kernel side 192.0.2.1, tern 192.0.2.10): curl keep-alive,
# a chunked upload refused on a file, ranges, a 64 KiB file over HTTPS,
# openssl s_client, hostile framing, wrk for 2 s without errors. Needs root.
# usage: tap_http.sh TERN_LINUX SOURCE_ROOT
set -u
tern=$1 root=$2
. "$root/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (TAP device and network namespace)"
for t in ip curl openssl mkfs.fat mcopy; do
    command -v $t >/dev/null || skip "$t not installed (scripts/install-deps.sh test)"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
tls="$root/fixtures/tls"
ns=tern-http-$$
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
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"; echo "ok - $1"; }

head -c 65536 /dev/urandom >"$tmp/blob.bin"
mkfs.fat -C "$tmp/disk.img" 4096 >/dev/null && mcopy -i "$tmp/disk.img" "$tmp/blob.bin" :: || fail "image"
# started directly (not through in_ns) so that $pid is tern-linux itself
ip netns exec "$ns" "$tern" --net tap:thttp0 --ip 192.0.2.10/24 --gw 192.0.2.1 --disk "$tmp/disk.img" \
    --tls-cert "$tls/test-ec-cert.pem" --tls-key "$tls/test-ec-key.pem" --log-level warn \
    >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_READY http=80 https=443 files=disk' 10 "$pid"
in_ns ip addr add 192.0.2.1/24 dev thttp0
in_ns ip link set thttp0 up
C="in_ns curl -sS --max-time 10"
H=http://192.0.2.10 S=https://192.0.2.10

expect "healthz over TAP" "$($C $H/healthz)" "ok"
n=$($C -v $H/healthz $H/healthz $H/status 2>&1 | grep -ci 're-using existing connection')
[ "$n" -ge 2 ] || fail "keep-alive not reused"
echo "ok - keep-alive reuse"
$C $H/blob.bin -o "$tmp/got" && cmp -s "$tmp/got" "$tmp/blob.bin" || fail "64 KiB file"
echo "ok - 64 KiB file"
expect "range" "$($C -o /dev/null -w '%{http_code} %{size_download}' -r 100-199 $H/blob.bin)" "206 100"
$C --cacert "$tls/test-ec-cert.pem" --resolve tern.test:443:192.0.2.10 https://tern.test/blob.bin -o "$tmp/got2" &&
    cmp -s "$tmp/got2" "$tmp/blob.bin" || fail "https 64 KiB file"
echo "ok - https 64 KiB file (name verified)"
s=$(in_ns openssl s_client -connect 192.0.2.10:443 -CAfile "$tls/test-ec-cert.pem" </dev/null 2>&1)
echo "$s" | grep -q 'Verify return code: 0 (ok)' || fail "s_client"
echo "ok - openssl s_client"
raw() { in_ns bash -c "exec 3<>/dev/tcp/192.0.2.10/80; printf '$1' >&3; timeout 5 cat <&3 | head -n1 | tr -d '\r'"; }
expect "CL+TE refused" "$(raw 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" "HTTP/1.1 400 Bad Request"
expect "still healthy" "$($C $H/healthz)" "ok"
if command -v wrk >/dev/null; then
    in_ns wrk -t1 -c8 -d2s "$H/healthz" >"$tmp/wrk" 2>&1 || fail "wrk"
    grep -q 'Socket errors\|Non-2xx' "$tmp/wrk" && fail "wrk errors: $(cat "$tmp/wrk")"
    echo "ok - wrk over TAP: $(grep 'Requests/sec' "$tmp/wrk")"
fi
# the TAP's offloads (vnet header: checksums both ways, TSO, coalesced
# receive) were used by what ran above, and no metadata was refused
$C $H/status | /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
a, n = d["addresses"][0], d["net"]
assert a["ip"] == "192.0.2.10" and a["offloads"] == "tx-csum tso rx-csum rx-large", a
assert n["tx_csum_offloaded"] > 0 and n["tx_tso_frames"] > 0 and n["rx_drop_bad_meta"] == 0, n' ||
    fail "/status: offloads not listed or not used"
echo "ok - /status: offloads listed and used"
kill -0 "$pid" || fail "tern-linux died"
echo "tap_http: all passed"
