#!/usr/bin/env bash
# HTTPS on metal: core/tls (mbedTLS built freestanding) serving Tern's own
# image on guest port 443, reached with curl --cacert through QEMU's user
# network (hostfwd 127.0.0.1:PORT -> 443, restricted: no outbound).
#
# usage: https.sh CASE BUILD_DIR SOURCE_DIR
#   esp      EC cert + key in the image's ESP (TERN/TLS/CERT.PEM, KEY.PEM):
#            "https on port 443 (... from ESP)"; curl --cacert: /healthz ok,
#            / is index.html, a 404; verification against another CA fails;
#            plain HTTP on 80 still answers; openssl s_client resumes the
#            first session from its ticket; the TLS self-test ran first
#   fwcfg    RSA cert + key through fw_cfg (ECDHE-RSA), image without them;
#            the TLS self-test (with the server set-up) ran first
#   nocert   no cert anywhere: "HTTPS off", HTTP on 80 answers, 443 does
#            not, and no TLS self-test ran
#   badkey   ESP cert with a key that does not match: refused, halt code 8
#   pkg      no cert on the ESP or fw_cfg: slot A's signed package has an
#            https endpoint on 443 and its own cert and key files (core's
#            tern_boot_https_start reads them from the package): the
#            self-test ran first, TERN_READY https=443, curl --cacert
#            /hello answers the app's greeting, /status says "manifest"
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
. "$src/tests/integration/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"
command -v curl >/dev/null || fail "curl not installed"

tls=$src/fixtures/tls
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-https-test.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/serial.log

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# An image as scripts/make-image.sh makes it, plus files in the ESP.
image() { # CERT KEY (either may be empty)
    mkdir -p "$tmp/esp/EFI/BOOT" "$tmp/esp/TERN/TLS"
    cp "$build/backends/baremetal/BOOTX64.EFI" "$tmp/esp/EFI/BOOT/BOOTX64.EFI"
    [ -n "$1" ] && cp "$1" "$tmp/esp/TERN/TLS/CERT.PEM"
    [ -n "$2" ] && cp "$2" "$tmp/esp/TERN/TLS/KEY.PEM"
    "$build/tools/tern-mkimage" --output "$tmp/tern.img" --size 64 --esp "$tmp/esp" \
        --data "$src/backends/baremetal/site" --quiet
}

p80=$(free_port)
p443=$(free_port)
run() {
    "$src/scripts/run-qemu.sh" "$build" --image "$tmp/tern.img" \
        -netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$p80-:80,hostfwd=tcp:127.0.0.1:$p443-:443" \
        -device virtio-net-pci,netdev=net0,romfile= "$@" </dev/null >"$out" 2>&1 &
    pid=$!
}

stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}

https_checks() { # CA
    local ca=$1 body code
    body=$(curl -sS -m 30 --cacert "$ca" "https://127.0.0.1:$p443/healthz") ||
        { cat "$out" >&2; fail "HTTPS /healthz failed"; }
    [ "$body" = ok ] || fail "HTTPS /healthz answered '$body'"
    curl -sS -m 30 --cacert "$ca" "https://127.0.0.1:$p443/" | grep -q '<h1>Tern</h1>' ||
        fail "HTTPS / is not the default index.html"
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 30 --cacert "$ca" \
        "https://127.0.0.1:$p443/no-such-file")
    [ "$code" = 404 ] || fail "HTTPS missing file answered $code, not 404"
    body=$(curl -sS -m 30 "http://127.0.0.1:$p80/healthz")
    [ "$body" = ok ] || fail "HTTP /healthz answered '$body' next to HTTPS"
}

# The TLS crypto self-test gates HTTPS: its ok line (with $1 as what it
# says about the server) must come before "https on port 443".
selftest_first() {
    local st hs
    st=$(grep -an -m1 -E "tls: tls self-test ok: sha256 aes-128-gcm chacha20-poly1305 ecdsa-p256, $1 " "$out" | cut -d: -f1)
    hs=$(grep -an -m1 'tls: https on port 443' "$out" | cut -d: -f1)
    [ -n "$st" ] || { cat "$out" >&2; fail "no TLS self-test ok line ($1) before HTTPS"; }
    [ -n "$hs" ] && [ "$st" -lt "$hs" ] || { cat "$out" >&2; fail "the TLS self-test did not run before HTTPS"; }
}

case $case_ in
    esp)
        image "$tls/test-ec-cert.pem" "$tls/test-ec-key.pem"
        run
        wait_for_marker "$out" 'tls: https on port 443 \(certificate and key from ESP\)' 120 "$pid"
        wait_for_marker "$out" '^TERN_READY http=80 https=443 files=disk' 30 "$pid"
        wait_for_marker "$out" '^TERN_NET_UP ' 60 "$pid"
        https_checks "$tls/test-ec-cert.pem"
        if curl -s -o /dev/null -m 30 --cacert "$tls/test-rsa-cert.pem" \
            "https://127.0.0.1:$p443/healthz"; then
            fail "the EC certificate verified against another CA"
        fi
        # Session tickets: a second connection resumes the first's session.
        command -v openssl >/dev/null || fail "openssl not installed"
        for n in 1 2; do
            sess=(-sess_out "$tmp/sess")
            [ "$n" = 2 ] && sess=(-sess_in "$tmp/sess")
            printf 'GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
                timeout 60 openssl s_client -connect "127.0.0.1:$p443" -tls1_2 \
                    -CAfile "$tls/test-ec-cert.pem" -verify_return_error "${sess[@]}" \
                    >"$tmp/s_client.$n" 2>&1 || { cat "$tmp/s_client.$n" >&2; fail "s_client $n"; }
        done
        grep -q '^New, TLSv1.2' "$tmp/s_client.1" || fail "first s_client: no new TLS 1.2 session"
        grep -q 'TLS session ticket:' "$tmp/s_client.1" || fail "no session ticket issued"
        grep -q '^Reused, TLSv1.2' "$tmp/s_client.2" ||
            { cat "$tmp/s_client.2" >&2; fail "the session ticket was not taken"; }
        echo "s_client: $(grep -m1 -E '^(New|Reused)' "$tmp/s_client.1"); then $(grep -m1 -E '^(New|Reused)' "$tmp/s_client.2")"
        stop
        ;;
    fwcfg)
        image "" ""
        run -fw_cfg "name=opt/tern/tls-cert,file=$tls/test-rsa-cert.pem" \
            -fw_cfg "name=opt/tern/tls-key,file=$tls/test-rsa-key.pem"
        wait_for_marker "$out" 'tls: https on port 443 \(certificate and key from fw_cfg\)' 120 "$pid"
        selftest_first 'core/tls server set up from the given certificate and key'
        wait_for_marker "$out" '^TERN_NET_UP ' 60 "$pid"
        https_checks "$tls/test-rsa-cert.pem"
        stop
        ;;
    nocert)
        image "" ""
        run
        wait_for_marker "$out" 'tls: no certificate .*HTTPS off' 120 "$pid"
        wait_for_marker "$out" '^TERN_READY http=80 files=disk' 30 "$pid"
        # no certificate anywhere: HTTPS is off and the self-test stays off the boot
        grep -aq 'tls: tls self-test' "$out" && { cat "$out" >&2; fail "the TLS self-test ran without a certificate"; }
        wait_for_marker "$out" '^TERN_NET_UP ' 60 "$pid"
        body=$(curl -sS -m 30 "http://127.0.0.1:$p80/healthz")
        [ "$body" = ok ] || fail "HTTP /healthz answered '$body'"
        if curl -s -o /dev/null -m 20 -k "https://127.0.0.1:$p443/healthz"; then
            fail "port 443 answered HTTPS without a certificate"
        fi
        stop
        ;;
    badkey)
        image "$tls/test-ec-cert.pem" "$tls/test-other-key.pem"
        run
        wait_for_marker "$out" 'ESP certificate and key refused: TLS key does not match the certificate' 120 "$pid"
        wait_for_marker "$out" 'HTTPS: the certificate or key given is not usable.*halting with code 8' 30 "$pid"
        status=0
        wait "$pid" || status=$?
        pid=
        [ "$status" -eq 17 ] || { cat "$out" >&2; fail "QEMU exit status $status, expected 17"; }
        ;;
    pkg)
        cat >"$tmp/manifest.json" <<'EOF'
{
  "tern_manifest": 1,
  "name": "hello-tls",
  "version": "1.0.0",
  "app": { "path": "hello.elf", "env": { "GREETING": "Hello over TLS" } },
  "endpoints": [
    { "name": "web", "proto": "http", "port": 80 },
    { "name": "secure", "proto": "https", "port": 443, "cert": "tls/cert.pem", "key": "tls/key.pem" }
  ],
  "resources": { "memory_mib": 1, "threads": 1 },
  "health": { "http": "/healthz", "port": 80 }
}
EOF
        "$build/tools/tern-pkg" build --manifest "$tmp/manifest.json" \
            --file "hello.elf=$build/apps/hello.elf" --file "tls/cert.pem=$tls/test-ec-cert.pem" \
            --file "tls/key.pem=$tls/test-ec-key.pem" -o "$tmp/tls.unsigned.tpk" || fail "tern-pkg build"
        "$build/tools/tern-pkg" sign --key "$src/fixtures/pkg/keys/test-only-signing-key.pem" \
            -o "$tmp/tls.tpk" "$tmp/tls.unsigned.tpk" || fail "tern-pkg sign"
        "$src/scripts/make-image.sh" "$build" "$tmp/tern.img" "" 64 "$tmp/tls.tpk" >/dev/null
        run
        wait_for_marker "$out" 'tls: https on port 443 \(certificate and key from tls/cert.pem, tls/key.pem of slot-a: endpoint secure\)' 120 "$pid"
        selftest_first 'server set up from the certificate and key next'
        wait_for_marker "$out" '^TERN_READY http=80 https=443 files=disk app=hello-tls' 60 "$pid"
        wait_for_marker "$out" '^TERN_NET_UP ' 60 "$pid"
        body=$(curl -sS -m 30 --cacert "$tls/test-ec-cert.pem" "https://127.0.0.1:$p443/hello") ||
            { cat "$out" >&2; fail "HTTPS /hello failed"; }
        [ "$body" = "Hello over TLS" ] || fail "HTTPS /hello answered '$body'"
        from=$(curl -sS -m 30 "http://127.0.0.1:$p80/status" |
            python3 -c 'import json,sys; h=json.load(sys.stdin)["https"]; print(h[0]["port"], h[0]["endpoint"], h[0]["from"])')
        [ "$from" = "443 secure manifest" ] || fail "/status https: $from"
        stop
        ;;
    *) fail "unknown case $case_" ;;
esac
grep -a -E '^TERN_|tls' "$out" | tr -d '\r'
echo "PASS: https $case_"
