#!/usr/bin/env bash
# tern-linux --disk serves the data partition of a tern-mkimage image, not
# its ESP (issue 12, defect 2): the ESP and the data partition hold
# different index.html files and a file each that the other lacks; curl
# over slirp (loopback forward only) must get the data partition's. With
# the data partition cross-linked (it fails the whole-volume check), no
# files are served at all: never the ESP instead.
# usage: linux_serve_data.sh TERN_LINUX TERN_MKIMAGE CROSSLINK_PY
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../integration/lib.sh"
command -v curl >/dev/null || skip "curl not installed (scripts/install-deps.sh test)"
command -v sgdisk >/dev/null || skip "sgdisk not installed (scripts/install-deps.sh test)"
BIN=$(realpath "$1"); MK=$(realpath "$2"); XL=$(realpath "$3")
T=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
cd "$T"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"; echo "ok - $1"; }

mkdir -p esp/EFI/BOOT data/docs
printf 'ESP index: the loader partition\n' >esp/index.html
printf 'only on the ESP\n' >esp/esp-only.txt
printf 'not a loader\n' >esp/EFI/BOOT/BOOTX64.EFI
printf '<h1>the data partition</h1>\n' >data/index.html
printf 'only on the data partition\n' >data/data-only.txt
printf 'a second file\n' >data/docs/readme.txt
"$MK" --output site.img --size 48 --esp esp --data data --quiet || fail "tern-mkimage"
sgdisk -v site.img | grep -q 'No problems found' || fail "sgdisk -v site.img"

# start PORT IMG: tern-linux serving IMG on 127.0.0.1:PORT, up and ready
start() {
    "$BIN" --disk "$2" --hostfwd "tcp:127.0.0.1:$1-:80" >"$T/out" 2>&1 &
    pid=$!
    wait_for_marker "$T/out" '^TERN_READY ' 15 "$pid"
    wait_for_marker "$T/out" '^TERN_NET_UP ' 15 "$pid"
}
stop() {
    kill -TERM "$pid"; wait "$pid"; local rc=$?; pid=
    [ $rc -eq 0 ] || fail "tern-linux exit status $rc"
}
C="curl -sS --max-time 10"

hp=$(free_port)
start "$hp" site.img
H="http://127.0.0.1:$hp"
grep -q '^TERN_DISK_OK disk=0 parts=2 part=1 fs=fat32 label=TERN-ESP ' out ||
    { cat out; fail "the ESP is the mounted (boot) volume"; }
grep -q '^TERN_READY http=80 files=disk' out || { cat out; fail "files=disk"; }
expect "index.html is the data partition's" "$($C $H/)" "<h1>the data partition</h1>"
expect "/index.html too" "$($C $H/index.html)" "<h1>the data partition</h1>"
expect "a file only on the data partition" "$($C $H/data-only.txt)" "only on the data partition"
expect "a subdirectory of the data partition" "$($C $H/docs/readme.txt)" "a second file"
expect "a file only on the ESP is not served" "$($C -o /dev/null -w '%{http_code}' $H/esp-only.txt)" "404"
expect "the loader is not served" "$($C -o /dev/null -w '%{http_code}' $H/EFI/BOOT/BOOTX64.EFI)" "404"
grep -q "info disk: disk 0: data volume: partition 2, FAT[0-9]* 'TERN-DATA'" out ||
    { cat out; fail "no data volume log line"; }
stop

# The data partition cross-linked: it fails its check, nothing is served,
# and the ESP is not served in its place.
cp site.img bad.img
/usr/bin/python3 "$XL" bad.img >/dev/null || fail "crosslink.py"
hp=$(free_port)
start "$hp" bad.img
H="http://127.0.0.1:$hp"
grep -q '^TERN_DISK_OK disk=0 parts=2 part=1 ' out || { cat out; fail "bad.img: the ESP mounts"; }
grep -q 'disk 0: partition 2 fails its check: cross-linked-cluster' out ||
    { cat out; fail "no warning for the cross-linked data partition"; }
grep -q 'disk 0: no data volume: cross-linked-cluster' out || { cat out; fail "no error line"; }
grep -q '^TERN_READY http=80 files=none' out || { cat out; fail "files=none"; }
expect "no index.html from the ESP" "$($C -o /dev/null -w '%{http_code}' $H/)" "404"
expect "no ESP file" "$($C -o /dev/null -w '%{http_code}' $H/esp-only.txt)" "404"
expect "still healthy" "$($C $H/healthz)" "ok"
stop
echo "PASS: tern-linux --disk serves the data partition"
