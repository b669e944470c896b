#!/usr/bin/env bash
# tern-linux --disk mounts a Tern-built image and an mkfs.fat-built image
# alike (TERN_DISK_OK), says gpt=backup when the primary GPT is damaged,
# and gives TERN_DISK_ERROR for a corrupt disk while the OS keeps running.
# usage: linux_disk.sh TERN_LINUX TERN_MKIMAGE FATCTL
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../integration/lib.sh"
need_tools
BIN=$(realpath "$1"); MK=$(realpath "$2"); FATCTL=$(realpath "$3")
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"

"$MK" --output tern.img --size 48 --quiet || fail "tern-mkimage"
"$MK" --output s4.img --size 300 --sector 4096 --quiet || fail "tern-mkimage 4096"
truncate -s 40M mkfs.img
sgdisk -o -n 1:2048:0 -t 1:0700 mkfs.img >/dev/null || fail "sgdisk"
truncate -s 38M vol.img; mkfs.fat -F 16 -n "MKFS VOL" vol.img >/dev/null || fail "mkfs.fat"
dd if=vol.img of=mkfs.img bs=1M seek=1 conv=notrunc status=none
cp tern.img backup.img
python3 -c "
f=open('backup.img','r+b'); f.seek(512+30); b=f.read(1); f.seek(512+30); f.write(bytes([b[0]^1]))"
truncate -s 8M junk.img
head -c 4096 /dev/urandom | dd of=junk.img conv=notrunc status=none
# A cross-link in the ESP (two files share clusters, sizes consistent):
# only the whole-volume check at mount can see it.
mkdir -p xl/EFI; head -c 3000 /dev/urandom > xl/EFI/a.bin; head -c 3000 /dev/urandom > xl/EFI/b.bin
"$MK" --output xlink.img --size 48 --esp xl --quiet || fail "tern-mkimage xl"
"$FATCTL" xlink.img --part 1 stat /EFI/a.bin > a.stat && "$FATCTL" xlink.img --part 1 stat /EFI/b.bin > b.stat ||
    fail "stat"
A=$(sed -n 's/.*cluster=\([0-9]*\).*/\1/p' a.stat); Bc=$(sed -n 's/.*cluster=\([0-9]*\).*/\1/p' b.stat)
python3 - xlink.img "$A" "$Bc" <<'PY'
import struct, sys
img, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(img, 'r+b') as f:
    base = 2048 * 512; f.seek(base); bs = f.read(512)
    res, = struct.unpack_from('<H', bs, 14); nf = bs[16]; fsz, = struct.unpack_from('<I', bs, 36)
    for k in range(nf):       # b's first cluster now continues into a's second
        f.seek(base + (res + k * fsz) * 512 + b * 4); f.write(struct.pack('<I', a + 1))
PY
"$FATCTL" xlink.img --part 1 cat /EFI/b.bin > /dev/null || fail "the lazy checks should not see a consistent cross-link"
cp tern.img badfat.img
python3 -c "
f=open('badfat.img','r+b'); f.seek(2048*512+11); f.write(b'\x00\x03')"

"$BIN" --disk tern.img --disk mkfs.img,ro --disk backup.img --disk junk.img --disk badfat.img \
    --disk s4.img,sector=4096 --disk xlink.img >out 2>&1 &
pid=$!
wait_for_marker out '^TERN_DISK_(OK|ERROR) disk=6 ' 10 "$pid"
wait_for_marker out '^TERN_BOOT_OK ' 5 "$pid"
grep -q '^TERN_DISK_OK disk=0 parts=2 part=1 fs=fat32 label=TERN-ESP sector=512 gpt=primary$' out ||
    { cat out; fail "disk 0 (tern-mkimage)"; }
grep -q '^TERN_DISK_OK disk=1 parts=1 part=1 fs=fat16 label=MKFS_VOL sector=512 gpt=primary$' out ||
    { cat out; fail "disk 1 (sgdisk + mkfs.fat)"; }
grep -q '^TERN_DISK_OK disk=2 parts=2 part=1 fs=fat32 label=TERN-ESP sector=512 gpt=backup$' out ||
    { cat out; fail "disk 2 (primary GPT damaged)"; }
grep -q 'primary GPT is damaged (bad-header-crc); using the backup' out || fail "no warning for disk 2"
grep -q '^TERN_DISK_ERROR disk=3 reason=bad-boot-signature$' out || { cat out; fail "disk 3 (junk)"; }
grep -q '^TERN_DISK_ERROR disk=4 reason=bad-bpb-bytes-per-sector$' out || { cat out; fail "disk 4 (bad BPB)"; }
grep -q 'error disk: disk 4: cannot mount' out || fail "no log line for disk 4"
grep -q '^TERN_DISK_OK disk=5 parts=2 part=1 fs=fat32 label=TERN-ESP sector=4096 gpt=primary$' out ||
    { cat out; fail "disk 5 (4096-byte sectors)"; }
grep -q '^TERN_DISK_ERROR disk=6 reason=cross-linked-cluster$' out || { cat out; fail "disk 6 (cross-link)"; }
kill -TERM "$pid"; wait "$pid"; rc=$?
[ $rc -eq 0 ] || fail "tern-linux exit status $rc"
grep -q '^TERN_HALT code=0$' out || fail "no clean halt"
echo "PASS: tern-linux --disk markers"
