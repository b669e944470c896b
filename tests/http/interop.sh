#!/usr/bin/env bash
# Interop: curl, openssl s_client and wrk against the HTTP and TLS engines
# bridged to loopback sockets by bridge_server (test code). Loopback only.
# Usage: interop.sh BRIDGE_SERVER SOURCE_ROOT
set -u
bridge=$1 root=$2
. "$root/tests/integration/lib.sh"
for t in curl openssl; do
    command -v $t >/dev/null || skip "$t is not installed (scripts/install-deps.sh test)"
done
tls="$root/fixtures/tls"
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$bridge" "$tls/test-ec-cert.pem" "$tls/test-ec-key.pem" 90 >"$work/out" 2>&1 &
pid=$!
wait_for_marker "$work/out" '^BRIDGE_READY ' 20 "$pid"
hp=$(marker_field "$work/out" BRIDGE_READY http)
sp=$(marker_field "$work/out" BRIDGE_READY https)
H="http://127.0.0.1:$hp" S="https://127.0.0.1:$sp"
C="curl -sS --max-time 10"
expect() { # name got want
    [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"
    echo "ok - $1"
}

expect "healthz" "$($C $H/healthz)" "ok"
expect "status is JSON" "$($C $H/status | head -c 17)" '{"backend":"sim",'
n=$($C -v $H/healthz $H/small.txt $H/healthz 2>&1 | grep -ci 're-using existing connection')
[ "$n" -ge 2 ] || fail "keep-alive: connection not reused ($n)"
echo "ok - keep-alive reuse ($n)"
head -c 30000 /dev/urandom | base64 -w0 >"$work/up"
$C -H 'Transfer-Encoding: chunked' --data-binary @"$work/up" $H/echo >"$work/down"
printf 'echo:' | cat - "$work/up" | cmp -s - "$work/down" || fail "chunked upload echo differs"
echo "ok - chunked upload (30 KB)"
expect "range" "$($C -r 10-19 $H/small.txt)" "abcdefghij"
expect "range status" "$($C -o /dev/null -w '%{http_code}' -r 10-19 $H/small.txt)" "206"
expect "range 416" "$($C -o /dev/null -w '%{http_code}' -r 500- $H/small.txt)" "416"
etag=$($C -D - -o /dev/null $H/small.txt | tr -d '\r' | sed -n 's/^ETag: //p')
expect "If-None-Match" "$($C -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" $H/small.txt)" "304"
expect "If-Modified-Since" "$($C -o /dev/null -w '%{http_code}' -z 'Sun, 06 Nov 1994 08:49:37 GMT' $H/small.txt)" "304"
expect "big file" "$($C $H/big.bin | wc -c)" "100000"
expect "traversal" "$($C -o /dev/null -w '%{http_code}' --path-as-is $H/../../etc/passwd)" "400"

# hostile bytes over a raw socket: the right status, then the server is fine
raw() { # request-bytes -> response status line
    exec 3<>/dev/tcp/127.0.0.1/$hp
    printf "$1" >&3
    timeout 5 cat <&3 | head -n1 | tr -d "\r"
    exec 3<&-
}
expect "CL+TE" "$(raw 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" "HTTP/1.1 400 Bad Request"
expect "bare LF" "$(raw 'GET / HTTP/1.1\nHost: a\n\n')" "HTTP/1.1 400 Bad Request"
expect "header flood" "$(raw "GET / HTTP/1.1\r\nHost: a\r\n$(for i in $(seq 100); do printf 'X: y\\r\\n'; done)\r\n")" "HTTP/1.1 431 Request Header Fields Too Large"
expect "still healthy" "$($C $H/healthz)" "ok"

# slowloris: a stalled head gets 408 at the (3 s) deadline; others are served meanwhile
exec 4<>/dev/tcp/127.0.0.1/$hp
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow:' >&4
expect "healthz during slowloris" "$($C $H/healthz)" "ok"
expect "slowloris 408" "$(timeout 8 cat <&4 | head -n1 | tr -d "\r")" "HTTP/1.1 408 Request Timeout"
exec 4<&-

# slowhttptest: slow headers, slow bodies (100 connections each, more than
# the pool of 32: the oldest slow ones are evicted) and slow readers, while
# /healthz keeps answering
if command -v slowhttptest >/dev/null; then
    for mode in "-H -u $H/healthz" "-B -u $H/small.txt" "-X -u $H/big.bin"; do
        (cd "$work" && timeout 30 slowhttptest $mode -c 100 -r 50 -i 1 -l 5 -p 2 >"$work/slow" 2>&1) &
        spid=$!
        probes=0
        while kill -0 $spid 2>/dev/null; do
            [ "$($C --max-time 3 $H/healthz)" = ok ] || fail "healthz failed during slowhttptest ${mode%% *}"
            probes=$((probes + 1))
        done
        wait $spid
        echo "ok - slowhttptest ${mode%% *}: /healthz answered $probes probes"
    done
fi

# TLS
expect "https healthz" "$($C --cacert "$tls/test-ec-cert.pem" $S/healthz)" "ok"
expect "https big" "$($C --cacert "$tls/test-ec-cert.pem" $S/big.bin | wc -c)" "100000"
s=$(openssl s_client -connect 127.0.0.1:$sp -CAfile "$tls/test-ec-cert.pem" -sess_out "$work/sess" </dev/null 2>&1)
echo "$s" | grep -q 'Verify return code: 0 (ok)' || fail "s_client verify: $s"
echo "$s" | grep -Eq 'Cipher is ECDHE-ECDSA-(AES128-GCM-SHA256|CHACHA20-POLY1305)' || fail "s_client cipher: $(echo "$s" | grep -i cipher)"
echo "$s" | grep -q 'Protocol *: TLSv1.2' || fail "s_client protocol"
echo "ok - openssl s_client: TLS 1.2, AEAD, verified"
r=$(openssl s_client -connect 127.0.0.1:$sp -CAfile "$tls/test-ec-cert.pem" -sess_in "$work/sess" </dev/null 2>&1)
echo "$r" | grep -q '^Reused, ' || fail "session ticket resumption: $(echo "$r" | grep -E 'New|Reused')"
echo "ok - session resumed from the ticket"
openssl s_client -connect 127.0.0.1:$sp -cipher AES128-SHA -tls1_2 </dev/null >"$work/cbc" 2>&1
grep -q 'Cipher is (NONE)\|handshake failure\|alert' "$work/cbc" || fail "a CBC-only client was accepted"
echo "ok - CBC-only client refused"
openssl s_client -connect 127.0.0.1:$sp -tls1_3 </dev/null >"$work/t13" 2>&1
grep -q 'Protocol *: TLSv1.3' "$work/t13" && fail "TLS 1.3 negotiated"
echo "ok - TLS 1.3-only client refused (TLS 1.2 only)"

# wrk: a few seconds, no errors
if command -v wrk >/dev/null; then
    wrk -t1 -c8 -d2s "$H/healthz" >"$work/wrk" 2>&1 || fail "wrk failed: $(cat "$work/wrk")"
    grep -q 'Socket errors\|Non-2xx' "$work/wrk" && fail "wrk errors: $(cat "$work/wrk")"
    echo "ok - wrk: $(grep 'Requests/sec' "$work/wrk")"
fi
kill -0 "$pid" || fail "bridge died"
echo "interop: all passed"
