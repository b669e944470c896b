#!/usr/bin/env bash
# mbedTLS and core/tls on metal: boots the UEFI image with halt=7 and
# checks the boot-time TLS self-test (backends/baremetal/mbedtls/glue.c:
# SHA-256, AES-128-GCM and ChaCha20-Poly1305 known answers, ECDSA P-256
# sign/verify, core/tls's server set-up from the fw_cfg cert and key). It
# runs only when a cert or key is given or the cmdline says tls_selftest=1.
#
# usage: tls.sh CASE BUILD_DIR SOURCE_DIR
#   ec        EC cert + key (fixtures/tls)  -> self-test ok, server set up, halt 7, status 15
#   rsa       RSA cert + key                -> same
#   none      no cert, no key, tls_selftest=1 -> self-test ok, "no certificate given"
#   mismatch  EC cert + another EC key      -> FAILED: key does not match, TERN_PANIC, status 71
#   nokey     EC cert only                  -> FAILED: key missing, TERN_PANIC, status 71
#   toobig    a 20 KiB "certificate"        -> refused (never cut), TERN_PANIC, status 71
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
. "$src/tests/integration/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"

tls=$src/fixtures/tls
out=$(mktemp "${TMPDIR:-/tmp}/tern-qemu-tls.XXXXXX")
big=$(mktemp "${TMPDIR:-/tmp}/tern-qemu-tls-big.XXXXXX")
trap 'rm -f "$out" "$big"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT

files=()
cmdline=halt=7
case $case_ in
    ec)       files=(-fw_cfg "name=opt/tern/tls-cert,file=$tls/test-ec-cert.pem"
                     -fw_cfg "name=opt/tern/tls-key,file=$tls/test-ec-key.pem") ;;
    rsa)      files=(-fw_cfg "name=opt/tern/tls-cert,file=$tls/test-rsa-cert.pem"
                     -fw_cfg "name=opt/tern/tls-key,file=$tls/test-rsa-key.pem") ;;
    none)     cmdline='halt=7 tls_selftest=1' ;;
    mismatch) files=(-fw_cfg "name=opt/tern/tls-cert,file=$tls/test-ec-cert.pem"
                     -fw_cfg "name=opt/tern/tls-key,file=$tls/test-other-key.pem") ;;
    nokey)    files=(-fw_cfg "name=opt/tern/tls-cert,file=$tls/test-ec-cert.pem") ;;
    toobig)   head -c 20480 /dev/zero | tr '\0' 'A' >"$big"
              files=(-fw_cfg "name=opt/tern/tls-cert,file=$big"
                     -fw_cfg "name=opt/tern/tls-key,file=$tls/test-ec-key.pem") ;;
    *) fail "unknown case $case_" ;;
esac

"$src/scripts/run-qemu.sh" "$build" -fw_cfg "name=opt/tern/cmdline,string=$cmdline" "${files[@]}" \
    </dev/null >"$out" 2>&1 &
pid=$!

expect_status() {
    local want=$1 status=0
    wait "$pid" || status=$?
    pid=
    if [ "$status" -ne "$want" ]; then
        cat "$out" >&2
        fail "QEMU exit status $status, expected $want"
    fi
}

ok='tls: tls self-test ok: sha256 aes-128-gcm chacha20-poly1305 ecdsa-p256, '
case $case_ in
    ec|rsa|none)
        wait_for_marker "$out" '^TERN_HALT code=7([^0-9]|$)' 100 "$pid"
        if [ "$case_" = none ]; then
            want="${ok}no certificate given \\([0-9]+ ms, no allocation left behind\\)"
        else
            want="${ok}core/tls server set up from the given certificate and key \\([0-9]+ ms, no allocation left behind\\)"
        fi
        grep -aEq "$want" "$out" || { cat "$out" >&2; fail "no self-test line: $want"; }
        grep -aq 'self-test FAILED' "$out" && fail "a FAILED line next to the ok line"
        expect_status 15
        ;;
    mismatch|nokey|toobig)
        wait_for_marker "$out" '^TERN_PANIC reason=tls-selftest-failed' 100 "$pid"
        case $case_ in
            mismatch) why='tls self-test FAILED: server init: TLS key does not match the certificate' ;;
            nokey)    why='tls self-test FAILED: server init: TLS key missing or empty' ;;
            toobig)   why='fw_cfg opt/tern/tls-cert: larger than 16382 bytes, refused' ;;
        esac
        grep -aqF "$why" "$out" || { cat "$out" >&2; fail "reason missing: $why"; }
        grep -aq 'tls self-test ok' "$out" && fail "an ok line for a refused set-up"
        expect_status 71
        ;;
esac
grep -a -E '^TERN_|tls' "$out" | tr -d '\r'
echo "PASS: tls $case_"
