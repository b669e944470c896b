#!/usr/bin/env bash
# tern-mkimage sizes what it writes from the tree it is given (issue 12,
# defect 3): 200 and 1000 long-named files in the data partition's root
# (a FAT12/16 root directory is fixed in size: it is sized to the names),
# a tree 63 directories deep, long-named files at 4096-byte sectors; each
# image judged by sgdisk -v, fsck.fat -n, mtools (mdir, mcopy back and
# diff) and Tern's own check. Trees that truly do not fit are refused
# before anything is written, with what (clusters, directory entries,
# root directory entries, depth), by how much, and the --size or
# --esp-size that would hold them; that size is then tried and holds.
# usage: mkimage_fit.sh TERN_MKIMAGE FATCTL
set -u
. "$(dirname "$0")/lib.sh"
need_tools
MK=$(realpath "$1"); FATCTL=$(realpath "$2")
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"

# judge IMG SECTOR DIR: the data partition of IMG holds exactly DIR
judge() {
    local img=$1 ss=$2 dir=$3 first last
    if [ "$ss" = 512 ]; then
        sgdisk -v "$img" | grep -q "No problems found" || { sgdisk -v "$img"; fail "sgdisk -v $img"; }
        extract "$img" 2 "$img.p2"
    else
        "$FATCTL" "$img" --sector 4096 gpt > "$img.gpt" || fail "gpt 4096"
        read -r _ first last _ < <(grep "^2 " "$img.gpt")
        dd if="$img" of="$img.p2" bs=4096 skip="$first" count=$((last - first + 1)) status=none
    fi
    fsck_clean "$img.p2" || fail "fsck.fat -n on the data partition of $img"
    local n
    n=$(mdir -i "$img.p2" -b -/ :: | grep -vc '/$')
    [ "$n" = "$(find "$dir" -type f | wc -l)" ] || fail "mdir lists $n files in $img"
    rm -rf "$img.m"; mkdir "$img.m"
    mcopy -s -n -i "$img.p2" ::/ "$img.m/" || fail "mcopy $img"
    diff -r "$dir" "$img.m" || fail "$img: the data partition differs under mtools"
    "$FATCTL" "$img" --sector "$ss" --part 2 check | grep -q "lost=0" || fail "Tern's check of $img"
}

# refused WANT... -- ARGS: tern-mkimage fails, writes nothing, says each WANT
refused() {
    local wants=() out
    while [ "$1" != "--" ]; do wants+=("$1"); shift; done
    shift
    rm -f x.img
    out=$("$MK" --output x.img "$@" 2>&1) && fail "accepted: $*"
    [ -e x.img ] && fail "a refused run left x.img behind: $*"
    for w in "${wants[@]}"; do
        printf '%s\n' "$out" | grep -q -- "$w" || fail "no '$w' in: $out"
    done
    printf '%s\n' "$out"
}

names() {   # names DIR COUNT PREFIX: COUNT empty-ish files with long names
    mkdir -p "$1"
    (cd "$1" && seq 1 "$2" | sed "s/^/$3 /; s/\$/.html/" | xargs -d '\n' -I{} sh -c 'echo "{}" > "{}"')
}

# 200 and 1000 long names in the root of a small (FAT12) data partition:
# both were "enospc (full)" with a fixed 512-entry root.
names r200 200 "a rather long file name for the root directory number"
"$MK" --output r200.img --size 48 --data r200 2>mk.log || { cat mk.log; fail "200 long names"; }
grep -q "data 13 MiB (FAT12, 1600 root entries)" mk.log || { cat mk.log; fail "root not sized"; }
judge r200.img 512 r200
echo "ok - 200 long names in the root"
names r1000 1000 "another quite long file name in the root, number"
"$MK" --output r1000.img --size 48 --data r1000 --quiet || fail "1000 long names"
judge r1000.img 512 r1000
echo "ok - 1000 long names in the root"
"$MK" --output s4.img --size 300 --sector 4096 --data r1000 --quiet || fail "1000 names, 4096"
judge s4.img 4096 r1000
echo "ok - 1000 long names in the root at 4096-byte sectors"

# A tree 63 directories deep (Tern's check walks 64 levels with the root)
# with long names and files on the way; 64 deep is refused.
p=deep
for i in $(seq 1 63); do
    p="$p/level $i of a deep tree"
    mkdir -p "$p"
    [ $((i % 9)) = 0 ] && echo "at $i" > "$p/file at level $i.txt"
done
echo leaf > "$p/leaf.txt"
"$MK" --output deep.img --size 48 --data deep --quiet || fail "63 deep"
judge deep.img 512 deep
echo "ok - a tree 63 deep"
mkdir "$p/one more"
refused "nested 64 deep, 1 more than the 63" -- --size 48 --data deep
echo "ok - 64 deep refused"

# Clusters: 20 MB in a 13 MiB data partition. The size it names holds the
# tree, and one MiB less does not.
mkdir big; head -c 20000000 /dev/urandom > big/blob.bin; echo hi > big/index.html
msg=$(refused "the partition would be full" "clusters of 4096 bytes" "clusters (.* KiB) short" \
    "--size [0-9]* would hold it" -- --size 48 --data big)
size=$(printf '%s\n' "$msg" | sed -n 's/.*--size \([0-9]*\) would hold it.*/\1/p')
"$MK" --output fit.img --size "$size" --data big --quiet || fail "--size $size does not hold it"
judge fit.img 512 big
refused "would be full" -- --size $((size - 1)) --data big >/dev/null
echo "ok - clusters: refused with the size that holds it ($size MiB)"
# The ESP the same way (40 MB in a 33 MiB ESP).
mkdir bigesp; head -c 40000000 /dev/zero > bigesp/zeros.bin
msg=$(refused "the ESP partition" "would be full" "--esp-size [0-9]* (with --size [0-9]*) would hold it" \
    -- --size 48 --esp bigesp)
esz=$(printf '%s\n' "$msg" | sed -n 's/.*--esp-size \([0-9]*\) (with --size \([0-9]*\)).*/\1 \2/p')
"$MK" --output efit.img --esp-size ${esz% *} --size ${esz#* } --esp bigesp --quiet ||
    fail "--esp-size $esz does not hold it"
echo "ok - ESP clusters: refused with the sizes that hold it ($esz)"

# Directory entries: 14000 names of five entries each in one directory
# (FAT allows 65536 entries in a directory).
mkdir many
(cd many && seq 1 14000 | sed 's/^/a name long enough for five entries number /; s/$/.txt/' |
    xargs -d '\n' touch)
refused "14000 names need 74666 directory entries" "holds at most 65536 (9130 too many)" \
    -- --size 48 --data many >/dev/null
echo "ok - too many entries for one directory"
# A root no FAT12/16 root can hold (65535 entries, over 65520) needs
# FAT32, which a 13 MiB partition cannot be.
mkdir root32
(cd root32 && seq 1 12288 | sed 's/^/a name long enough for five entries number /; s/$/.txt/' |
    xargs -d '\n' touch)
refused "root directory needs 65535 entries" "holds at most 65520" "FAT32 needs at least" \
    "--size [0-9]* would hold it" -- --size 48 --data root32 >/dev/null
echo "ok - a root that needs FAT32 in a partition too small for it"
echo "PASS: tern-mkimage sizes the root and clusters, and says what does not fit"
