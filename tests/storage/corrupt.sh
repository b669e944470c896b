#!/usr/bin/env bash
# Every corrupt-image case of ../shared/testing.md for GPT and FAT gets a
# clear error (a named reason), never a crash or a hang.
# usage: corrupt.sh FATCTL
set -u
. "$(dirname "$0")/lib.sh"
need_tools
FATCTL=$(realpath "$1")
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"

# gpt_set IMG primary|backup FIELD VALUE [nocrc]: rewrites a header field
# (or an entry-array byte with FIELD=array) and fixes the CRCs unless
# nocrc is given.
gpt_set() {
    python3 - "$@" <<'PY'
import struct, sys, zlib
img, which, field, value = sys.argv[1:5]
nocrc = len(sys.argv) > 5
ss = 512
with open(img, 'r+b') as f:
    f.seek(0, 2); nsec = f.tell() // ss
    lba = 1 if which == 'primary' else nsec - 1
    f.seek(lba * ss); h = bytearray(f.read(ss))
    offs = {'header_size': (12, '<I'), 'my_lba': (24, '<Q'), 'entry_count': (80, '<I'),
            'entry_size': (84, '<I'), 'entries_lba': (72, '<Q'), 'signature': (0, '<Q'),
            'first_usable': (40, '<Q')}
    if field == 'array':
        elba = struct.unpack_from('<Q', h, 72)[0]
        f.seek(elba * ss + int(value, 0)); b = f.read(1)
        f.seek(elba * ss + int(value, 0)); f.write(bytes([b[0] ^ 0xff]))
    elif field == 'flip':
        h[int(value, 0)] ^= 0x01
    else:
        o, fmt = offs[field]
        struct.pack_into(fmt, h, o, int(value, 0))
    if not nocrc and field != 'flip':
        hs = struct.unpack_from('<I', h, 12)[0]
        if field == 'array':
            elba = struct.unpack_from('<Q', h, 72)[0]
            n, es = struct.unpack_from('<II', h, 80)
            f.seek(elba * ss); arr = f.read(n * es)
            struct.pack_into('<I', h, 88, zlib.crc32(arr) & 0xffffffff)
        hs = min(max(hs, 92), ss)
        struct.pack_into('<I', h, 16, 0)
        struct.pack_into('<I', h, 16, zlib.crc32(bytes(h[:hs])) & 0xffffffff)
    f.seek(lba * ss); f.write(h)
PY
}

fresh_gpt() {
    rm -f g.img; truncate -s 8M g.img
    sgdisk -o -n 1:2048:+2M -t 1:EF00 -n 2:0:0 -t 2:0700 g.img >/dev/null || fail "sgdisk"
}

# ---- GPT ----
fresh_gpt
"$FATCTL" g.img gpt | grep -q "^parts=2 backup=0" || fail "clean GPT not read"

check_gpt_case() {   # FIELD VALUE REASON [nocrc]
    local field=$1 value=$2 reason=$3 nocrc=${4:-}
    # Primary bad, backup good: the backup is used and the reason given.
    fresh_gpt; gpt_set g.img primary "$field" "$value" $nocrc
    out=$("$FATCTL" g.img gpt) || fail "$field: backup not used: $out"
    printf '%s\n' "$out" | grep -q "^parts=2 backup=1 primary_reason=$reason\$" ||
        fail "$field=$value: expected backup with reason $reason, got: $out"
    # Both bad: a clear error.
    gpt_set g.img backup "$field" "$value" $nocrc
    expect_error "reason=$reason" "$FATCTL" g.img gpt
    echo "ok gpt $field=$value -> $reason"
}
check_gpt_case header_size 16 bad-header-size
check_gpt_case header_size 600 bad-header-size
check_gpt_case entry_size 64 bad-entry-size
check_gpt_case entry_size 4096 bad-entry-size
check_gpt_case entry_count 0 bad-entry-count
check_gpt_case entry_count 100000 bad-entry-count
check_gpt_case flip 30 bad-header-crc
check_gpt_case array 0x20 bad-entry-array-crc nocrc
check_gpt_case my_lba 5 my-lba-mismatch
check_gpt_case signature 0x1122334455667788 bad-signature
check_gpt_case entries_lba 0x100000 bad-entry-array-location
# An entry outside the usable range (CRCs made consistent).
fresh_gpt
python3 - <<'PY'
import struct, zlib
ss = 512
with open('g.img', 'r+b') as f:
    f.seek(0, 2); nsec = f.tell() // ss
    for lba in (1, nsec - 1):
        f.seek(lba * ss); h = bytearray(f.read(ss))
        elba = struct.unpack_from('<Q', h, 72)[0]
        f.seek(elba * ss); arr = bytearray(f.read(128 * 128))
        struct.pack_into('<Q', arr, 128 + 40, nsec + 100)      # entry 2 ends past the disk
        f.seek(elba * ss); f.write(arr)
        struct.pack_into('<I', h, 88, zlib.crc32(bytes(arr)))
        struct.pack_into('<I', h, 16, 0)
        struct.pack_into('<I', h, 16, zlib.crc32(bytes(h[:92])))
        f.seek(lba * ss); f.write(h)
PY
expect_error "reason=partition-out-of-range" "$FATCTL" g.img gpt
echo "ok gpt partition-out-of-range"
# sgdisk agrees that a primary we refuse is damaged.
fresh_gpt; gpt_set g.img primary flip 30
sgdisk -v g.img 2>&1 | grep -qi "problem\|corrupt\|damaged\|invalid" || fail "sgdisk does not see the damage"

# ---- FAT ----
# A FAT16 volume with known files; offsets from the BPB.
mkvol() {
    rm -f v.img; truncate -s 16M v.img
    mkfs.fat -F 16 -s 1 v.img >/dev/null
    head -c 1500 /dev/urandom > a; head -c 1500 /dev/urandom > b
    mcopy -i v.img a ::a.bin; mcopy -i v.img b ::b.bin
    mmd -i v.img ::sub; mmd -i v.img ::sub/inner; echo x > c; mcopy -i v.img c ::sub/c.txt
}
cluster_of() { "$FATCTL" v.img stat "$1" | sed -n 's/.*cluster=\([0-9]*\).*/\1/p'; }
fat_set() {      # CLUSTER VALUE (both FATs)
    python3 - "$@" <<'PY'
import struct, sys
c, v = int(sys.argv[1]), int(sys.argv[2], 0)
with open('v.img', 'r+b') as f:
    bs = f.read(512)
    bps, = struct.unpack_from('<H', bs, 11); res, = struct.unpack_from('<H', bs, 14)
    nf = bs[16]; fsz, = struct.unpack_from('<H', bs, 22)
    for k in range(nf):
        f.seek((res + k * fsz) * bps + c * 2); f.write(struct.pack('<H', v & 0xffff))
PY
}
dir_entry_patch() {   # CLUSTER(of dir) INDEX OFFSET HEX : patch an entry of a subdirectory
    python3 - "$@" <<'PY'
import struct, sys
c, idx, off, hx = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4])
with open('v.img', 'r+b') as f:
    bs = f.read(512)
    bps, = struct.unpack_from('<H', bs, 11); spc = bs[13]; res, = struct.unpack_from('<H', bs, 14)
    nf = bs[16]; re, = struct.unpack_from('<H', bs, 17); fsz, = struct.unpack_from('<H', bs, 22)
    data = res + nf * fsz + (re * 32 + bps - 1) // bps
    f.seek((data + (c - 2) * spc) * bps + idx * 32 + off); f.write(hx)
PY
}

mkvol; A=$(cluster_of /a.bin); B=$(cluster_of /b.bin)
"$FATCTL" v.img cat /a.bin | cmp - a || fail "clean read"
"$FATCTL" v.img check | grep -q "lost=0" || fail "clean check"

fat_set $((A + 2)) "$A"                      # last cluster points back to the first
expect_error "reason=chain-loop" "$FATCTL" v.img cat /a.bin; echo "ok fat chain loop"
mkvol; fat_set $((A + 1)) 0xffff             # chain ends after 2 of 3 clusters
expect_error "reason=chain-shorter-than-size" "$FATCTL" v.img cat /a.bin; echo "ok fat chain shorter"
mkvol; fat_set $((A + 2)) 2000; fat_set 2000 0xffff   # one cluster too many
expect_error "reason=chain-longer-than-size" "$FATCTL" v.img cat /a.bin; echo "ok fat chain longer"
mkvol; fat_set $((A + 1)) 0xfff0             # beyond the last cluster
expect_error "reason=cluster-out-of-range" "$FATCTL" v.img cat /a.bin; echo "ok fat out of range"
mkvol; fat_set $((A + 1)) 0                  # a free cluster inside a chain
expect_error "reason=chain-into-free-cluster" "$FATCTL" v.img cat /a.bin; echo "ok fat free in chain"
mkvol; fat_set "$B" $((A + 1))               # b.bin joins a.bin's chain: cross-linked
"$FATCTL" v.img cat /b.bin >/dev/null || true
expect_error "reason=cross-linked-cluster" "$FATCTL" v.img check; echo "ok fat cross-link"
mkvol; S=$(cluster_of /sub); dir_entry_patch "$S" 0 26 "0900"   # "." names another cluster
expect_error "reason=bad-dot-entries" "$FATCTL" v.img ls /sub; echo "ok fat bad ."
mkvol; S=$(cluster_of /sub); dir_entry_patch "$S" 1 26 "0900"   # ".." is not the root
expect_error "reason=bad-dot-entries" "$FATCTL" v.img ls /sub; echo "ok fat bad .."
mkvol; S=$(cluster_of /sub); dir_entry_patch "$S" 0 0 "58"       # no "." at all
expect_error "reason=bad-dot-entries" "$FATCTL" v.img cat /sub/c.txt; echo "ok fat missing ."
mkvol; I=$(cluster_of /sub/inner); dir_entry_patch "$I" 1 26 "$(printf '%02x%02x' $((I & 255)) $((I >> 8)))"
expect_error "reason=bad-dot-entries" "$FATCTL" v.img ls /sub/inner; echo "ok fat .. loop to itself"

# Boot sector cases.
bpb_case() {   # OFFSET HEX REASON
    mkvol; patch v.img "$1" "$2"
    expect_error "reason=$3" "$FATCTL" v.img ls /; echo "ok bpb $3"
}
bpb_case 11 0003 bad-bpb-bytes-per-sector
bpb_case 13 03 bad-bpb-sectors-per-cluster
bpb_case 16 00 bad-bpb-fat-count
bpb_case 14 0000 bad-bpb-reserved
bpb_case 22 0100 fat-too-small
bpb_case 510 0000 bad-boot-signature
bpb_case 19 ffff bad-bpb-total-sectors
echo "PASS: corrupt GPT and FAT images give clear errors"
