#!/usr/bin/env bash
# Signed packages at boot on tern-linux, as a user runs it (docs/packages.md,
# "At boot"): --package with a good package runs it (TERN_PKG_OK, /status);
# each refusal exits 78 with TERN_PKG_REFUSED and the package reason
# (unsigned without development mode, a key nobody trusts, a tampered byte,
# a truncated file, a security counter below the volume's); --trust and the
# boot volume's /tern/trust add signers; --allow-unsigned and the boot
# volume's /tern/dev.json turn development mode on (WARN and /status), a
# dev.json that is anything else does not; --manifest without development
# mode is refused. Then disks: tern-pkg install puts a package into slot
# A (active, confirmed) of an image made by tern-mkimage (sgdisk and
# fsck.fat as referees), a second install stages slot B, and the boot tries
# it (TERN_UPDATE_TRY); the data volume's /tern is not served over HTTP.
# usage: linux_pkg.sh BUILD_DIR SOURCE_ROOT
set -u
build=$1 root=$2
. "$root/tests/integration/lib.sh"
tern=$build/backends/linux/tern-linux tpk=$build/tools/tern-pkg mkimage=$build/tools/tern-mkimage
keys=$root/fixtures/pkg/keys
for t in sgdisk fsck.fat curl python3 openssl; do command -v $t >/dev/null || skip "$t not installed"; done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-linux-pkg.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"; echo "ok - $1"; }
C="curl -sS --max-time 10"

start() {
    local name=$1
    shift
    hp=$(free_port)
    "$tern" --hostfwd "tcp:127.0.0.1:$hp-:80" "$@" >"$tmp/$name.out" 2>&1 &
    pid=$!
    wait_for_marker "$tmp/$name.out" '^TERN_READY http=80 .*app=' 15 "$pid"
    out=$tmp/$name.out
}
stop() { kill -TERM "$pid"; wait "$pid"; local c=$?; pid=; expect "$1: SIGTERM ends it with 0" "$c" 0; }
status_field() {  # status_field PYTHON_EXPR: evaluates it on /status as d
    $C "http://127.0.0.1:$hp/status" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
# refused NAME REASON ARGS...: exit 78 and TERN_PKG_REFUSED reason=REASON.
refused() {
    local name=$1 want=$2
    shift 2
    timeout 30 "$tern" "$@" >"$tmp/$name.out" 2>&1 </dev/null
    local code=$?
    expect "$name: exit status" "$code" 78
    expect "$name: reason" "$(marker_field "$tmp/$name.out" TERN_PKG_REFUSED reason)" "$want"
    grep -q '^TERN_APP_START' "$tmp/$name.out" && fail "$name: an app started"
    true
}

# 1. a good package
start good --package "$build/apps/hello.tpk"
expect "TERN_PKG_OK name" "$(marker_field "$out" TERN_PKG_OK name)" hello
expect "TERN_PKG_OK key" "$(marker_field "$out" TERN_PKG_OK key)" 8008d48924e4f4bc
expect "TERN_PKG_OK slot (none: a file)" "$(marker_field "$out" TERN_PKG_OK slot)" -
expect "TERN_MANIFEST_OK source" "$(marker_field "$out" TERN_MANIFEST_OK source)" "file:$build/apps/hello.tpk"
expect "serves" "$($C http://127.0.0.1:$hp/hello)" "Hello from Tern"
expect "/status package" "$(status_field 'd["workload"]["package"]["name"], d["workload"]["package"]["key"], d["workload"]["development_mode"]')" "hello 8008d48924e4f4bc False"
grep -q 'warn pkg: trusting the built-in TEST key: not for production' "$out" || fail "no WARN for the TEST key"
echo "ok - the built-in TEST key is said at WARN"
stop good

# 2. refusals
refused unsigned unsigned --package "$build/apps/hello.unsigned.tpk"
"$tpk" sign --key "$keys/test-only-other-key.pem" -o "$tmp/other.tpk" "$build/apps/hello.unsigned.tpk" || fail "sign"
refused unknown-key unknown-key --package "$tmp/other.tpk"
size=$(stat -c %s "$build/apps/hello.tpk")
cp "$build/apps/hello.tpk" "$tmp/tampered.tpk"
# a byte of the app file (the payload's end region, before the records)
python3 - "$tmp/tampered.tpk" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
off = 64 + 144 * int.from_bytes(b[12:16], 'little') + 200   # inside the first file's bytes
b[off] ^= 0x01
open(p, 'wb').write(b)
EOF
refused tampered file-hash --package "$tmp/tampered.tpk"
head -c $((size - 10)) "$build/apps/hello.tpk" >"$tmp/truncated.tpk"
refused truncated truncated --package "$tmp/truncated.tpk"
refused raw-manifest unsigned --manifest "$root/fixtures/manifests/hello.json"

# 3. trust from --trust and from the boot volume; development mode
start trust --package "$tmp/other.tpk" --trust "$keys/test-only-other-key.pub.pem"
other_id=$(openssl pkey -pubin -in "$keys/test-only-other-key.pub.pem" -outform DER | sha256sum | cut -c1-16)
expect "--trust: signed by the other key (openssl's key id)" "$(marker_field "$out" TERN_PKG_OK key)" "$other_id"
expect "--trust: /status lists two keys" "$(status_field 'len(d["workload"]["trusted_keys"])')" 2
stop trust
start dev --package "$build/apps/hello.unsigned.tpk" --allow-unsigned
expect "--allow-unsigned: an unsigned package runs" "$(marker_field "$out" TERN_PKG_OK key)" unsigned
expect "--allow-unsigned: /status" "$(status_field 'd["workload"]["development_mode"], d["workload"]["development_source"]')" "True --allow-unsigned"
grep -q 'warn pkg: DEVELOPMENT MODE (--allow-unsigned)' "$out" || fail "no WARN for development mode"
stop dev

mkdir -p "$tmp/esp/tern/trust" "$tmp/data"
cp "$keys/test-only-other-key.pub.pem" "$tmp/esp/tern/trust/other.pem"
printf '{ "allow_unsigned" : true }\n' >"$tmp/esp/tern/dev.json"
echo '<p>site</p>' >"$tmp/data/index.html"
"$mkimage" --output "$tmp/dev.img" --size 48 --esp "$tmp/esp" --data "$tmp/data" --quiet || fail "mkimage"
start devdisk --disk "$tmp/dev.img" --package "$tmp/other.tpk"
expect "boot volume /tern/trust: the other key" "$(status_field 'len(d["workload"]["trusted_keys"])')" 2
expect "boot volume /tern/dev.json" "$(status_field 'd["workload"]["development_mode"], d["workload"]["development_source"]')" "True boot:/tern/dev.json"
stop devdisk
printf '{"allow_unsigned": true, "x": 1}\n' >"$tmp/esp/tern/dev.json"
rm "$tmp/esp/tern/trust/other.pem"
"$mkimage" --output "$tmp/nodev.img" --size 48 --esp "$tmp/esp" --data "$tmp/data" --quiet || fail "mkimage"
refused bad-dev-json unsigned --disk "$tmp/nodev.img" --package "$build/apps/hello.unsigned.tpk"
grep -q 'error pkg: /tern/dev.json is not' "$tmp/bad-dev-json.out" || fail "no error line for a bad dev.json"

# 4. slots: tern-pkg install, a fresh image, then an update staged
rm -rf "$tmp/esp/tern"
"$mkimage" --output "$tmp/disk.img" --size 48 --esp "$tmp/esp" --data "$tmp/data" --quiet || fail "mkimage"
"$tpk" install "$tmp/disk.img" "$build/apps/hello.tpk" >"$tmp/install1" 2>&1 || { cat "$tmp/install1" >&2; fail "install"; }
grep -q 'into slot A of .*: active, confirmed' "$tmp/install1" || fail "first install: $(cat "$tmp/install1")"
sgdisk -v "$tmp/disk.img" >"$tmp/sgdisk" 2>&1 || { cat "$tmp/sgdisk" >&2; fail "sgdisk -v after install"; }
first=$(sgdisk -i 2 "$tmp/disk.img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
last=$(sgdisk -i 2 "$tmp/disk.img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
dd if="$tmp/disk.img" of="$tmp/part.img" bs=512 skip="$first" count=$((last - first + 1)) status=none
fsck.fat -n "$tmp/part.img" >"$tmp/fsck" 2>&1 || { cat "$tmp/fsck" >&2; fail "fsck.fat -n after install"; }
echo "ok - tern-pkg install: sgdisk -v and fsck.fat -n find nothing wrong"
cp "$tmp/disk.img" "$tmp/before.img"
"$tpk" install "$tmp/disk.img" "$tmp/tampered.tpk" >"$tmp/install-bad" 2>&1
expect "install of a tampered package: exit 4" "$?" 4
cmp -s "$tmp/disk.img" "$tmp/before.img" || fail "a refused install changed the image"
echo "ok - a refused install leaves the image as it was"
start slot --disk "$tmp/disk.img"
expect "boot from slot A" "$(marker_field "$out" TERN_PKG_OK slot) $(marker_field "$out" TERN_MANIFEST_OK source)" "A slot-a"
expect "/status update" "$(status_field 'd["update"]["active"], d["update"]["confirmed"], d["update"]["slots"][0]["id"]')" "A True hello 1.0.0 key=8008d48924e4f4bc"
for p in tern/slot-a.tpk TERN/BOOT-STATE.0 tern/ Tern./slot-a.tpk; do
    expect "GET /$p: 404 (the OS's own files)" "$($C -o /dev/null -w '%{http_code}' --path-as-is "http://127.0.0.1:$hp/$p")" 404
done
expect "GET /index.html still served" "$($C http://127.0.0.1:$hp/index.html)" "<p>site</p>"
stop slot
"$tpk" install "$tmp/disk.img" "$build/apps/kv.tpk" >"$tmp/install2" 2>&1 || { cat "$tmp/install2" >&2; fail "install 2"; }
grep -q 'into slot B of .*: pending' "$tmp/install2" || fail "second install: $(cat "$tmp/install2")"
start trial --disk "$tmp/disk.img"
expect "TERN_UPDATE_TRY slot" "$(marker_field "$out" TERN_UPDATE_TRY slot)" B
expect "TERN_UPDATE_TRY tries_left" "$(marker_field "$out" TERN_UPDATE_TRY tries_left)" 2
expect "the trial runs kv" "$(marker_field "$out" TERN_PKG_OK name) $(marker_field "$out" TERN_PKG_OK slot)" "kv B"
stop trial

# 5. the volume's accepted counter: a package below it is refused
mkdir -p "$tmp/c5"
"$tpk" build --manifest "$root/fixtures/manifests/hello.json" --file "hello.elf=$build/apps/hello.elf" \
    --security-counter 5 -o "$tmp/c5/u.tpk" >/dev/null || fail "build counter 5"
"$tpk" sign --key "$keys/test-only-signing-key.pem" -o "$tmp/c5/hello5.tpk" "$tmp/c5/u.tpk" >/dev/null || fail "sign"
"$mkimage" --output "$tmp/c5.img" --size 48 --esp "$tmp/esp" --data "$tmp/data" --quiet || fail "mkimage"
"$tpk" install "$tmp/c5.img" "$tmp/c5/hello5.tpk" >/dev/null 2>&1 || fail "install counter 5"
refused counter counter-too-old --disk "$tmp/c5.img" --package "$build/apps/hello.tpk"
"$tpk" install "$tmp/c5.img" "$build/apps/kv.tpk" >"$tmp/install-old" 2>&1
expect "install below the accepted counter: exit 4" "$?" 4
grep -q 'counter-too-old' "$tmp/install-old" || fail "install-old: $(cat "$tmp/install-old")"
echo "PASS"
