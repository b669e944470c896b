#!/usr/bin/env bash
# tern-pkg as a user runs it (docs/packages.md), with openssl and an
# independent reader (tpk_referee.py) as referees:
#   - --help and the exit codes (2 usage, 3 I/O, 4 refused);
#   - keygen: openssl reads both files, and they are one key pair;
#   - the known-answer package rebuilt and re-signed byte for byte from its
#     committed inputs; inspect agrees with the referee on every field;
#   - openssl verifies what tern-pkg signs (over the bytes tern-pkg and the
#     referee export), and tern-pkg accepts what openssl signs (sign
#     --signature), with openssl's keys too;
#   - verify's refusals: another key, unsigned, tampered, a counter below
#     --min-counter; the meson-built app packages verify.
#
# usage: tern_pkg_cli.sh TERN_PKG FIXTURES_DIR REFEREE APP_ELF [APP.tpk...]
set -u
# meson passes built files relative to the build folder: make them absolute.
tp=$(realpath "$1"); fx=$(realpath "$2"); referee=$(realpath "$3"); app_elf=$(realpath "$4")
shift 4
pkgs=()
for p in "$@"; do pkgs+=("$(realpath "$p")"); done
set -- "${pkgs[@]}"
keys=$fx/pkg/keys
kat=$fx/pkg/kat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE CMD...: runs CMD, checks its exit code, keeps its output.
expect() {
    local want=$1; shift
    "$@" >"$work/out" 2>"$work/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        bad "exit $got (expected $want): $*"
        sed 's/^/    /' "$work/out" "$work/err"
    fi
}

# expect_err TEXT: the last command's stderr says TEXT.
expect_err() {
    grep -qF -- "$1" "$work/err" || { bad "stderr lacks '$1'"; sed 's/^/    /' "$work/err"; }
}

# ---- help and usage ----
expect 0 "$tp" --help
grep -q '^usage: tern-pkg COMMAND' "$work/out" || bad "tern-pkg --help"
for c in keygen build sign verify inspect; do
    expect 0 "$tp" "$c" --help
    grep -q "^usage: tern-pkg $c" "$work/out" || bad "$c --help"
    expect 2 "$tp" "$c" --no-such-option
    expect_err "unknown option"
done
expect 2 "$tp"
expect 2 "$tp" frobnicate
expect 2 "$tp" build --manifest "$kat/manifest.json"            # no -o
expect 2 "$tp" sign "$kat/kat.tpk"                               # no key
expect 2 "$tp" sign --key a --signature b "$kat/kat.tpk"         # both
expect 2 "$tp" verify
expect 2 "$tp" verify --min-counter -1 "$kat/kat.tpk"
expect 2 "$tp" verify --min-counter 12x "$kat/kat.tpk"
expect 2 "$tp" build --manifest "$kat/manifest.json" --file noequals -o "$work/x.tpk"

# ---- I/O errors ----
expect 3 "$tp" inspect "$work/missing.tpk"
expect 3 "$tp" build --manifest "$kat/manifest.json" --file app.elf="$work/missing" -o "$work/x.tpk"
expect 3 "$tp" verify --trust "$work/missing.pem" "$kat/kat.tpk"
expect 3 "$tp" keygen --private "$work/nodir/k.pem" --public "$work/nodir/p.pem"

# ---- keygen, with openssl as the referee ----
expect 0 "$tp" keygen --private "$work/k.pem" --public "$work/p.pem"
[ "$(stat -c %a "$work/k.pem")" = 600 ] || bad "private key mode $(stat -c %a "$work/k.pem")"
openssl pkey -in "$work/k.pem" -noout -text 2>/dev/null | grep -q 'ASN1 OID: prime256v1' ||
    bad "openssl does not read the private key as P-256"
openssl pkey -in "$work/k.pem" -pubout -out "$work/p-openssl.pem" 2>/dev/null
cmp -s "$work/p.pem" "$work/p-openssl.pem" || bad "public key is not the private key's"
expect 3 "$tp" keygen --private "$work/k.pem" --public "$work/p2.pem"
expect_err "already exists"
[ -e "$work/p2.pem" ] && bad "keygen wrote a file after refusing"

# ---- the known-answer package, rebuilt and re-signed ----
(cd "$kat" && "$tp" build --manifest manifest.json --dir files \
    --file app.elf=../../fuzz/elf_load/app_reloc_packed.elf \
    --security-counter 7 -o "$work/kat-unsigned.tpk") || bad "building the KAT"
cmp "$work/kat-unsigned.tpk" "$kat/kat-unsigned.tpk" || bad "KAT unsigned package differs"
expect 0 "$tp" sign --key "$keys/test-only-signing-key.pem" -o "$work/kat.tpk" "$work/kat-unsigned.tpk"
cmp "$work/kat.tpk" "$kat/kat.tpk" || bad "KAT signed package differs (signing is deterministic)"
cp "$work/kat-unsigned.tpk" "$work/inplace.tpk"
expect 0 "$tp" sign --key "$keys/test-only-signing-key.pem" "$work/inplace.tpk"
cmp -s "$work/inplace.tpk" "$kat/kat.tpk" || bad "sign without -o (in place)"

# inspect and the referee agree on every field, for the KAT and each app.
for p in "$kat/kat.tpk" "$kat/kat-unsigned.tpk" "$@"; do
    "$tp" inspect "$p" | grep -v -e '^package:' -e '^signature:' >"$work/ours" ||
        bad "inspect $p"
    python3 "$referee" "$p" >"$work/theirs" || bad "the referee refuses $p"
    diff -u "$work/theirs" "$work/ours" || bad "inspect and the referee differ on $p"
done
# The hashes are sha256sum's and openssl's.
"$tp" inspect "$kat/kat.tpk" >"$work/ours"
for f in "$kat/manifest.json" "$kat/files/www/index.html" "$fx/fuzz/elf_load/app_reloc_packed.elf"; do
    h=$(sha256sum <"$f" | cut -d' ' -f1)
    grep -q "^  $h " "$work/ours" || bad "no file with sha256sum $h ($f)"
done
n=$(sed -n 's/^signed_bytes: //p' "$work/ours")
h=$(head -c "$n" "$kat/kat.tpk" | sha256sum | cut -d' ' -f1)
grep -q "^image_sha256: $h\$" "$work/ours" || bad "image_sha256 is not sha256sum of the signed bytes"
id=$(openssl pkey -pubin -in "$keys/test-only-signing-key.pub.pem" -outform DER | sha256sum | cut -d' ' -f1)
grep -q "^signer: $id\$" "$work/ours" || bad "signer is not the SHA-256 of openssl's DER public key"
expect 0 "$tp" inspect --trust "$keys/test-only-signing-key.pub.pem" "$kat/kat.tpk"
grep -q '^signature: valid' "$work/out" || bad "inspect --trust: $(grep signature "$work/out")"
expect 0 "$tp" inspect --trust "$keys/test-only-other-key.pub.pem" "$kat/kat.tpk"
grep -q '^signature: refused: unknown-key' "$work/out" || bad "inspect with another key"

# ---- openssl verifies what tern-pkg signs ----
expect 0 "$tp" build --manifest "$kat/manifest.json" --dir "$kat/files" --file app.elf="$app_elf" \
    --security-counter 3 -o "$work/u.tpk"
expect 0 "$tp" sign --key "$work/k.pem" -o "$work/s.tpk" "$work/u.tpk"
expect 0 "$tp" inspect --export-signed "$work/signed.bin" --export-signature "$work/sig.der" "$work/s.tpk"
openssl dgst -sha256 -verify "$work/p.pem" -signature "$work/sig.der" "$work/signed.bin" >/dev/null ||
    bad "openssl does not verify tern-pkg's signature"
python3 "$referee" "$work/s.tpk" --export-signed "$work/r-signed.bin" \
    --export-signature "$work/r-sig.der" >/dev/null || bad "referee on s.tpk"
openssl dgst -sha256 -verify "$work/p.pem" -signature "$work/r-sig.der" "$work/r-signed.bin" >/dev/null ||
    bad "openssl does not verify the bytes the referee exports"
cmp -s "$work/signed.bin" "$work/r-signed.bin" || bad "tern-pkg and the referee export different bytes"
printf 'x' >>"$work/signed.bin"
openssl dgst -sha256 -verify "$work/p.pem" -signature "$work/sig.der" "$work/signed.bin" >/dev/null 2>&1 &&
    bad "openssl verifies changed bytes (the referee does not discriminate)"
openssl asn1parse -inform DER -in "$work/sig.der" >/dev/null || bad "the signature is not DER"
expect 4 "$tp" inspect --export-signature "$work/none.der" "$work/u.tpk"
expect_err "unsigned"

# ---- tern-pkg accepts what openssl signs ----
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ossl-sec1.pem" 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$work/ossl-sec1.pem" -out "$work/ossl-pk8.pem"
openssl pkey -in "$work/ossl-sec1.pem" -pubout -out "$work/ossl-pub.pem" 2>/dev/null
expect 0 "$tp" inspect --export-signed "$work/u-signed.bin" "$work/u.tpk"
openssl dgst -sha256 -sign "$work/ossl-sec1.pem" -out "$work/ossl.der" "$work/u-signed.bin"
expect 0 "$tp" sign --signature "$work/ossl.der" --public "$work/ossl-pub.pem" -o "$work/o.tpk" "$work/u.tpk"
expect 0 "$tp" verify --trust "$work/ossl-pub.pem" "$work/o.tpk"
grep -q '^ok: kat 1.2.3+4' "$work/out" || bad "verify output: $(cat "$work/out")"
expect 4 "$tp" verify --trust "$work/p.pem" "$work/o.tpk"
expect_err "unknown-key"
# The test key signing through openssl, accepted under the test key's trust.
openssl dgst -sha256 -sign "$keys/test-only-signing-key.pem" -out "$work/t.der" "$work/u-signed.bin"
expect 0 "$tp" sign --signature "$work/t.der" --public "$keys/test-only-signing-key.pub.pem" \
    -o "$work/t.tpk" "$work/u.tpk"
expect 0 "$tp" verify --trust "$keys/test-only-signing-key.pub.pem" "$work/t.tpk"
# A signature over other bytes, or under the wrong public key: refused,
# nothing written.
openssl dgst -sha256 -sign "$work/ossl-sec1.pem" -out "$work/wrong.der" "$kat/manifest.json"
expect 4 "$tp" sign --signature "$work/wrong.der" --public "$work/ossl-pub.pem" -o "$work/w.tpk" "$work/u.tpk"
expect_err "bad-signature"
expect 4 "$tp" sign --signature "$work/ossl.der" --public "$work/p.pem" -o "$work/w.tpk" "$work/u.tpk"
[ -e "$work/w.tpk" ] && bad "a refused signature was written"
# openssl's keys (SEC1 and PKCS#8) sign through tern-pkg too.
for k in ossl-sec1 ossl-pk8; do
    expect 0 "$tp" sign --key "$work/$k.pem" -o "$work/$k.tpk" "$work/u.tpk"
    expect 0 "$tp" verify --trust "$work/ossl-pub.pem" "$work/$k.tpk"
done
expect 4 "$tp" sign --key "$keys/test-only-signing-key.pub.pem" -o "$work/w.tpk" "$work/u.tpk"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$work/rsa.pem" 2>/dev/null
expect 4 "$tp" sign --key "$work/rsa.pem" -o "$work/w.tpk" "$work/u.tpk"
expect_err "not an ECDSA P-256 key"

# ---- verify's refusals ----
expect 4 "$tp" verify --trust "$keys/test-only-signing-key.pub.pem" "$work/u.tpk"
expect_err "refused: unsigned"
expect 0 "$tp" verify --allow-unsigned "$work/u.tpk"
grep -q UNSIGNED "$work/out" || bad "--allow-unsigned does not say UNSIGNED"
expect 0 "$tp" verify --trust "$work/p.pem" --min-counter 3 "$work/s.tpk"
expect 4 "$tp" verify --trust "$work/p.pem" --min-counter 4 "$work/s.tpk"
expect_err "refused: counter-too-old"
expect 4 "$tp" verify --trust "$keys/test-only-p384.pub.pem" "$work/s.tpk"
expect_err "bad-key"
cp "$work/s.tpk" "$work/tampered.tpk"
printf '\x01' | dd of="$work/tampered.tpk" bs=1 seek=600 conv=notrunc 2>/dev/null
expect 4 "$tp" verify --trust "$work/p.pem" "$work/tampered.tpk"
expect_err "refused: file-hash"
expect 4 "$tp" inspect "$work/tampered.tpk"
head -c 100 "$work/s.tpk" >"$work/cut.tpk"
expect 4 "$tp" verify --trust "$work/p.pem" "$work/cut.tpk"
expect_err "refused: truncated"

# ---- build's refusals ----
printf '{"tern_manifest": 1, "name": "x", "version": "1.0.0", "app": {"path": "a.elf"}, "bogus": 1}' \
    >"$work/bad.json"
expect 4 "$tp" build --manifest "$work/bad.json" --file a.elf="$app_elf" -o "$work/x.tpk"
expect_err '$.bogus'
expect 4 "$tp" build --manifest "$kat/manifest.json" --dir "$kat/files" -o "$work/x.tpk"
expect_err "app.elf is not among the files"
expect 4 "$tp" build --manifest "$kat/manifest.json" --file app.elf="$kat/manifest.json" -o "$work/x.tpk"
expect_err "the app is refused"
expect 4 "$tp" build --manifest "$kat/manifest.json" --file ../x="$app_elf" -o "$work/x.tpk"
expect_err "not a valid package name"
mkdir -p "$work/tree/sub" && ln -s /etc/passwd "$work/tree/sub/link"
expect 4 "$tp" build --manifest "$kat/manifest.json" --dir "$work/tree" -o "$work/x.tpk"
expect_err "symbolic links"
expect 2 "$tp" build --manifest "$kat/manifest.json" --dir "$kat" -o "$work/x.tpk"
expect_err "both 'manifest.json'"
[ -e "$work/x.tpk" ] && bad "a refused build wrote its output"

# ---- the packages meson built verify with the test key ----
for p in "$@"; do
    expect 0 "$tp" verify --trust "$keys/test-only-signing-key.pub.pem" "$p"
    expect 4 "$tp" verify --trust "$keys/test-only-other-key.pub.pem" "$p"
done

if [ "$failures" -ne 0 ]; then
    echo "tern_pkg_cli: $failures failure(s)"
    exit 1
fi
echo "tern_pkg_cli: all checks passed"
