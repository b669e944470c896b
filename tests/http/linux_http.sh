#!/usr/bin/env bash
# tern-linux serves HTTP and HTTPS over slirp with --hostfwd (loopback
# only): /healthz, /status, files from a FAT disk image (index.html,
# content types, ranges, conditionals, traversal refused), keep-alive,
# chunked upload refused with 405 on a static file, hostile framing,
# curl --cacert and openssl s_client over HTTPS, wrk for 2 s without
# errors, and clear refusals of a wrong or missing TLS key at start.
# usage: linux_http.sh TERN_LINUX SOURCE_ROOT
set -u
tern=$1 root=$2
. "$root/tests/integration/lib.sh"
for t in curl openssl mkfs.fat mcopy; do
    command -v $t >/dev/null || skip "$t not installed (scripts/install-deps.sh test)"
done
tls="$root/fixtures/tls"
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"; echo "ok - $1"; }

# a FAT image with a small site
mkdir -p "$tmp/site/docs"
printf '<h1>tern on disk</h1>\n' >"$tmp/site/index.html"
printf 'body{}\n' >"$tmp/site/style.css"
head -c 65536 /dev/urandom >"$tmp/site/docs/blob.bin"
mkfs.fat -C "$tmp/disk.img" 4096 >/dev/null || fail "mkfs.fat"
mcopy -s -i "$tmp/disk.img" "$tmp/site/"* :: || fail "mcopy"

hp=$(free_port) sp=$(free_port)
"$tern" --disk "$tmp/disk.img" --hostfwd "tcp:127.0.0.1:$hp-:80" --hostfwd "tcp:127.0.0.1:$sp-:443" \
    --tls-cert "$tls/test-ec-cert.pem" --tls-key "$tls/test-ec-key.pem" --log-level warn \
    >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_READY http=80 https=443 files=disk' 15 "$pid"
H="http://127.0.0.1:$hp" S="https://127.0.0.1:$sp"
C="curl -sS --max-time 10"
# the forward reaches the guest once it has its address (DHCP)
wait_for_marker "$tmp/out" '^TERN_NET_UP ' 15 "$pid"

expect "healthz" "$($C $H/healthz)" "ok"
expect "status backend" "$($C $H/status | head -c 19)" '{"backend":"linux",'
$C $H/status | /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["addresses"][0]["ip"] == "192.0.2.15", d
assert d["http"]["requests"] >= 2 and "tcp" in d, d' || fail "status JSON"
echo "ok - status JSON with addresses and counters"
$C -D "$tmp/h" -o /dev/null $H/status
grep -qi "^Content-Security-Policy: default-src 'none'" "$tmp/h" || fail "status CSP"
grep -qi '^X-Content-Type-Options: nosniff' "$tmp/h" || fail "nosniff"
grep -qi '^Server: tern.\?$' "$tmp/h" || fail "Server header leaks more than 'tern'"
echo "ok - security headers"
expect "index.html from disk" "$($C $H/)" "<h1>tern on disk</h1>"
expect "css type" "$($C -o /dev/null -w '%{content_type}' $H/style.css)" "text/css; charset=utf-8"
$C $H/docs/blob.bin -o "$tmp/blob" && cmp -s "$tmp/blob" "$tmp/site/docs/blob.bin" || fail "64 KiB file differs"
echo "ok - 64 KiB file"
$C -r 1000-1999 $H/docs/blob.bin -o "$tmp/part"
cmp -s "$tmp/part" <(tail -c +1001 "$tmp/site/docs/blob.bin" | head -c 1000) || fail "range differs"
echo "ok - range"
etag=$($C -D - -o /dev/null $H/style.css | tr -d '\r' | sed -n 's/^ETag: //Ip')
expect "If-None-Match" "$($C -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" $H/style.css)" "304"
expect "dir redirect" "$($C -o /dev/null -w '%{http_code} %{redirect_url}' $H/docs)" "301 $H/docs/"
expect "missing" "$($C -o /dev/null -w '%{http_code}' $H/nope.txt)" "404"
expect "traversal" "$($C -o /dev/null -w '%{http_code}' --path-as-is "$H/docs/../../x")" "400"
expect "encoded slash" "$($C -o /dev/null -w '%{http_code}' "$H/docs%2fblob.bin")" "400"
expect "POST to a file" "$($C -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/site/style.css" $H/style.css)" "405"
n=$($C -v $H/healthz $H/style.css $H/healthz 2>&1 | grep -ci 're-using existing connection')
[ "$n" -ge 2 ] || fail "keep-alive not reused ($n)"
echo "ok - keep-alive reuse"
raw() { exec 3<>/dev/tcp/127.0.0.1/$hp; printf "$1" >&3; timeout 5 cat <&3 | head -n1 | tr -d '\r'; exec 3<&-; }
expect "CL+TE refused" "$(raw 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" "HTTP/1.1 400 Bad Request"
expect "double CL refused" "$(raw 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab')" "HTTP/1.1 400 Bad Request"
expect "garbage refused" "$(raw '\x01\x02\x03\r\n\r\n')" "HTTP/1.1 400 Bad Request"
expect "still healthy" "$($C $H/healthz)" "ok"

expect "https healthz" "$($C --cacert "$tls/test-ec-cert.pem" $S/healthz)" "ok"
$C --cacert "$tls/test-ec-cert.pem" $S/docs/blob.bin -o "$tmp/blob2" && cmp -s "$tmp/blob2" "$tmp/site/docs/blob.bin" || fail "https file differs"
echo "ok - https 64 KiB file"
s=$(openssl s_client -connect 127.0.0.1:$sp -CAfile "$tls/test-ec-cert.pem" </dev/null 2>&1)
echo "$s" | grep -q 'Verify return code: 0 (ok)' || fail "s_client: $s"
echo "$s" | grep -q 'Protocol *: TLSv1.2' || fail "s_client protocol"
echo "ok - openssl s_client"

if command -v wrk >/dev/null; then
    wrk -t1 -c4 -d2s "$H/healthz" >"$tmp/wrk" 2>&1 || fail "wrk: $(cat "$tmp/wrk")"
    grep -q 'Socket errors\|Non-2xx' "$tmp/wrk" && fail "wrk errors: $(cat "$tmp/wrk")"
    echo "ok - wrk over slirp: $(grep 'Requests/sec' "$tmp/wrk")"
fi
kill -0 "$pid" || fail "tern-linux died"
kill -INT "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" = 0 ] || fail "tern-linux exited with $rc"

# bad TLS configuration: refused at start with a clear message
"$tern" --hostfwd "tcp:127.0.0.1:$(free_port)-:80" --tls-cert "$tls/test-ec-cert.pem" \
    --tls-key "$tls/test-other-key.pem" >"$tmp/bad" 2>&1 && fail "a mismatched key was accepted"
grep -q 'TLS key does not match the certificate' "$tmp/bad" || fail "no clear message: $(cat "$tmp/bad")"
"$tern" --tls-cert "$tls/test-ec-cert.pem" --tls-key "$tmp/missing.pem" >"$tmp/bad" 2>&1 && fail "a missing key was accepted"
grep -q -- '--tls-key .*missing.pem: No such file' "$tmp/bad" || fail "no clear message: $(cat "$tmp/bad")"
"$tern" --tls-cert "$tls/test-ec-key.pem" --tls-key "$tls/test-ec-key.pem" --hostfwd "tcp:127.0.0.1:$(free_port)-:80" >"$tmp/bad" 2>&1 && fail "a key as certificate was accepted"
grep -q 'TLS certificate unreadable' "$tmp/bad" || fail "no clear message: $(cat "$tmp/bad")"
echo "ok - bad TLS files refused at start"
echo "linux_http: all passed"
