#!/usr/bin/env bash
# HTTPS from the workload's own manifest on tern-linux (core/boot/https.c,
# docs/manifest.md "What the OS does with it"): a signed package whose
# manifest has an https endpoint on 8443 and whose files hold its
# certificate and key (fixtures/tls) is served over TLS on that port
# (curl --cacert, openssl s_client as referees), said in TERN_READY and
# /status; --tls-cert/--tls-key apply over the package's pair; a package
# with a key that does not match its certificate, or without its key
# file, is refused (TERN_APP_REFUSED, exit 78, nothing listens); a raw
# manifest (development mode) takes its pair from its own folder.
# usage: linux_https.sh BUILD_DIR SOURCE_ROOT
set -u
build=$1 root=$2
. "$root/tests/integration/lib.sh"
tern=$build/backends/linux/tern-linux tpk=$build/tools/tern-pkg
tls=$root/fixtures/tls
for t in curl openssl python3; do command -v $t >/dev/null || skip "$t not installed"; done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-linux-https.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
expect() { [ "$2" = "$3" ] || { cat "$out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }
C="curl -sS --max-time 10"

# The hello app with an https endpoint "secure" on 8443 (its cert and key
# are files of the package) next to its http one.
cat >"$tmp/manifest.json" <<'EOF'
{
  "tern_manifest": 1,
  "name": "hello-tls",
  "version": "1.0.0",
  "app": { "path": "hello.elf", "env": { "GREETING": "Hello over TLS" } },
  "endpoints": [
    { "name": "web", "proto": "http", "port": 80 },
    { "name": "secure", "proto": "https", "port": 8443, "cert": "tls/cert.pem", "key": "tls/key.pem" }
  ],
  "resources": { "memory_mib": 1, "threads": 1 },
  "health": { "http": "/healthz", "port": 80 }
}
EOF
# package NAME CERT KEY: a signed package (KEY empty: no key file in it).
package() {
    local files=(--file "hello.elf=$build/apps/hello.elf" --file "tls/cert.pem=$2")
    [ -n "$3" ] && files+=(--file "tls/key.pem=$3")
    "$tpk" build --manifest "$tmp/manifest.json" "${files[@]}" -o "$tmp/$1.unsigned.tpk" ||
        fail "tern-pkg build $1"
    "$tpk" sign --key "$root/fixtures/pkg/keys/test-only-signing-key.pem" \
        -o "$tmp/$1.tpk" "$tmp/$1.unsigned.tpk" || fail "tern-pkg sign $1"
}
start() { # NAME ARGS...
    local name=$1
    shift
    hp=$(free_port) sp=$(free_port)
    "$tern" --hostfwd "tcp:127.0.0.1:$hp-:80" --hostfwd "tcp:127.0.0.1:$sp-:8443" "$@" \
        >"$tmp/$name.out" 2>&1 &
    pid=$!
    out=$tmp/$name.out
    wait_for_marker "$out" '^TERN_READY http=80 .*app=' 15 "$pid"
    wait_for_marker "$out" '^TERN_NET_UP ' 15 "$pid"
}
stop() { kill -TERM "$pid"; wait "$pid"; local c=$?; pid=; expect "$1: SIGTERM ends it with 0" "$c" 0; }
# refused NAME ARGS...: exit 78 with TERN_APP_REFUSED; no app, no listener.
refused() {
    local name=$1
    shift
    timeout 30 "$tern" "$@" >"$tmp/$name.out" 2>&1 </dev/null
    local code=$?
    out=$tmp/$name.out
    expect "$name: exit status" "$code" 78
    grep -q '^TERN_APP_REFUSED name=hello-tls reason=' "$out" || { cat "$out" >&2; fail "$name: no TERN_APP_REFUSED"; }
    grep -qE '^TERN_(APP_START|READY)|https on port' "$out" && { cat "$out" >&2; fail "$name: something started"; }
    true
}

package good "$tls/test-ec-cert.pem" "$tls/test-ec-key.pem"
package badkey "$tls/test-ec-cert.pem" "$tls/test-other-key.pem"
package nokey "$tls/test-ec-cert.pem" ""

# 1. the package's own certificate on the manifest's port
start good --package "$tmp/good.tpk"
expect "TERN_READY https= (the manifest's port)" "$(marker_field "$out" TERN_READY https)" 8443
grep -q "info tls: https on port 8443 (certificate and key from tls/cert.pem, tls/key.pem of file:$tmp/good.tpk: endpoint secure)" "$out" ||
    { cat "$out" >&2; fail "no line saying where the certificate came from"; }
st=$(grep -n -m1 'tls: tls self-test ok: ' "$out" | cut -d: -f1)
hs=$(grep -n -m1 'tls: https on port 8443' "$out" | cut -d: -f1)
[ -n "$st" ] && [ "$st" -lt "$hs" ] || { cat "$out" >&2; fail "the crypto self-test did not gate HTTPS"; }
echo "ok - the crypto self-test ran before HTTPS"
expect "GET /hello over HTTPS (curl --cacert)" "$($C --cacert "$tls/test-ec-cert.pem" "https://127.0.0.1:$sp/hello")" "Hello over TLS"
expect "GET /hello over HTTP still" "$($C "http://127.0.0.1:$hp/hello")" "Hello over TLS"
if $C -o /dev/null --cacert "$tls/test-rsa-cert.pem" "https://127.0.0.1:$sp/hello" 2>/dev/null; then
    fail "the package's EC certificate verified against another CA"
fi
echo "ok - another CA does not verify it"
s=$(openssl s_client -connect "127.0.0.1:$sp" -CAfile "$tls/test-ec-cert.pem" </dev/null 2>&1)
echo "$s" | grep -q 'Verify return code: 0 (ok)' || fail "s_client: $s"
echo "ok - openssl s_client verifies it"
expect "/status https" "$($C "http://127.0.0.1:$hp/status" | python3 -c 'import json,sys; h=json.load(sys.stdin)["https"]; print(len(h), h[0]["port"], h[0]["endpoint"], h[0]["from"], h[0]["handshakes"] >= 2)')" \
    "1 8443 secure manifest True"
stop good

# 2. --tls-cert/--tls-key apply over the package's pair, on its port
start override --package "$tmp/good.tpk" --tls-cert "$tls/test-rsa-cert.pem" --tls-key "$tls/test-rsa-key.pem"
grep -q "info tls: endpoint secure: the certificate and key from --tls-cert apply over the manifest's tls/cert.pem, tls/key.pem" "$out" ||
    { cat "$out" >&2; fail "the override is not said"; }
expect "override: TERN_READY https=" "$(marker_field "$out" TERN_READY https)" 8443
expect "override: served with the given RSA certificate" "$($C --cacert "$tls/test-rsa-cert.pem" "https://127.0.0.1:$sp/hello")" "Hello over TLS"
expect "override: /status from" "$($C "http://127.0.0.1:$hp/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["https"][0]["from"])')" "--tls-cert"
stop override

# 3. refusals: a key that does not match, a key file missing
refused badkey --package "$tmp/badkey.tpk"
grep -q 'reason=endpoint_secure:_certificate_tls/cert.pem_and_key_tls/key.pem_refused:_TLS_key_does_not_match_the_certificate' "$out" ||
    { cat "$out" >&2; fail "badkey: the reason is not the key"; }
refused nokey --package "$tmp/nokey.tpk"
grep -q "reason=endpoint_secure:_tls/key.pem_is_not_among_the_workload's_files" "$out" ||
    { cat "$out" >&2; fail "nokey: the reason is not the missing file"; }

# 4. a raw manifest in development mode: the pair from its own folder
mkdir -p "$tmp/raw/tls"
cp "$tmp/manifest.json" "$tmp/raw/manifest.json"
cp "$build/apps/hello.elf" "$tmp/raw/hello.elf"
cp "$tls/test-ec-cert.pem" "$tmp/raw/tls/cert.pem"
cp "$tls/test-ec-key.pem" "$tmp/raw/tls/key.pem"
start raw --allow-unsigned --manifest "$tmp/raw/manifest.json"
expect "raw manifest: GET /hello over HTTPS" "$($C --cacert "$tls/test-ec-cert.pem" "https://127.0.0.1:$sp/hello")" "Hello over TLS"
stop raw
echo "linux_https: all passed"
