#!/usr/bin/env bash
# Volumes made by sgdisk + mkfs.fat (FAT12, FAT16, FAT32, several cluster
# sizes) and filled by mcopy -- long names, deep trees, fragmented files --
# are read by Tern byte-exact; what Tern then writes passes fsck.fat -n and
# reads back with mtools byte-exact.
# usage: fat_referee.sh FATCTL
set -u
. "$(dirname "$0")/lib.sh"
need_tools
FATCTL=$(realpath "$1")
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"

one() {
    local fat=$1 spc=$2 mib=$3
    local tag="fat$fat-spc$spc"
    rm -rf ref out back vol.img d.img
    # The volume: mkfs.fat on its own file, then placed in a GPT disk made
    # by sgdisk at 1 MiB.
    truncate -s "${mib}M" vol.img
    mkfs.fat -F "$fat" -s "$spc" -n "REF$fat" vol.img >/dev/null || fail "$tag: mkfs.fat"
    truncate -s $((mib + 2))M d.img
    sgdisk -o -n 1:2048:+${mib}M -t 1:0700 d.img >/dev/null || fail "$tag: sgdisk"
    dd if=vol.img of=d.img bs=1M seek=1 conv=notrunc status=none
    local at="d.img@@1M"

    # Fill with mtools: long names, a deep tree, fragmentation.
    mkdir -p ref/deep/one/two/three/four/five/six/seven ref/long
    echo deep > ref/deep/one/two/three/four/five/six/seven/bottom.txt
    for i in $(seq 1 60); do echo "n $i" > "ref/long/A Long File Name With Spaces $i.text"; done
    echo UP > ref/UPPER.TXT; echo low > ref/lower.txt
    mcopy -s -i "$at" ref/* :: || fail "$tag: mcopy fill"
    # Fragmentation: small files, delete every other one, then a large
    # file fills the holes, then more small files.
    mmd -i "$at" ::frag
    mkdir ref/frag
    for i in $(seq 1 30); do head -c $((spc * 512 * 2 + i)) /dev/urandom > "ref/frag/s$i"; mcopy -i "$at" "ref/frag/s$i" ::frag/; done
    for i in $(seq 2 2 30); do mdel -i "$at" "::frag/s$i"; rm "ref/frag/s$i"; done
    head -c $(( (mib / 4) * 1024 * 1024 / 2 )) /dev/urandom > ref/frag/big
    mcopy -i "$at" ref/frag/big ::frag/ || fail "$tag: mcopy big"
    mdel -i "$at" ::frag/s3; rm ref/frag/s3
    head -c 5000 /dev/urandom > ref/frag/rewritten; mcopy -i "$at" ref/frag/rewritten ::frag/

    # Tern reads everything byte-exact.
    "$FATCTL" d.img --part 1 info | grep -q "^fat$fat " || fail "$tag: Tern sees $("$FATCTL" d.img --part 1 info)"
    mkdir out; "$FATCTL" d.img --part 1 export / out || fail "$tag: export"
    diff -r ref out || fail "$tag: Tern read differs"
    "$FATCTL" d.img --part 1 check | grep -q "lost=0" || fail "$tag: check"
    "$FATCTL" d.img --part 1 stat /upper.txt | grep -q "short=UPPER.TXT" || fail "$tag: case-insensitive lookup"
    # Range read.
    "$FATCTL" d.img --part 1 pcat /frag/big 1000 7000 | cmp - <(tail -c +1001 ref/frag/big | head -c 7000) ||
        fail "$tag: pread"

    # Tern writes: new files (long names, large, empty), directories,
    # rename, move, delete, append, truncate.
    head -c 300000 /dev/urandom > w1
    "$FATCTL" d.img --part 1 put w1 "/Written By Tern.bin" || fail "$tag: put"; cp w1 "ref/Written By Tern.bin"
    "$FATCTL" d.img --part 1 mkdir /tern || fail "$tag: mkdir"; mkdir ref/tern
    "$FATCTL" d.img --part 1 mkdir "/tern/Sub Directory" || fail "$tag: mkdir 2"; mkdir "ref/tern/Sub Directory"
    for i in $(seq 1 40); do
        echo "tern $i" > w2
        "$FATCTL" d.img --part 1 put w2 "/tern/Sub Directory/entry number $i.txt" || fail "$tag: put $i"
        cp w2 "ref/tern/Sub Directory/entry number $i.txt"
    done
    : > w3; "$FATCTL" d.img --part 1 put w3 /tern/EMPTY.TXT || fail "$tag: empty"; : > ref/tern/EMPTY.TXT
    "$FATCTL" d.img --part 1 mv "/long/A Long File Name With Spaces 7.text" "/tern/moved here.text" || fail "$tag: mv"
    mv "ref/long/A Long File Name With Spaces 7.text" "ref/tern/moved here.text"
    "$FATCTL" d.img --part 1 mv /deep/one/two "/tern/Sub Directory/two" || fail "$tag: mv dir"
    mv ref/deep/one/two "ref/tern/Sub Directory/two"
    "$FATCTL" d.img --part 1 rm /frag/s5 || fail "$tag: rm"; rm ref/frag/s5
    "$FATCTL" d.img --part 1 append w1 /frag/s7 || fail "$tag: append"; cat w1 >> ref/frag/s7
    "$FATCTL" d.img --part 1 trunc /frag/big 12345 || fail "$tag: trunc"; truncate -s 12345 ref/frag/big
    "$FATCTL" d.img --part 1 mkdir /gone && "$FATCTL" d.img --part 1 rm /gone || fail "$tag: rmdir"
    out=$("$FATCTL" d.img --part 1 rm /tern 2>&1) && fail "$tag: removed a non-empty directory"
    printf '%s\n' "$out" | grep -q "error=ebusy" || fail "$tag: $out"

    # The referees agree.
    dd if=d.img of=vol.img bs=1M skip=1 count="$mib" status=none
    fsck_clean vol.img || fail "$tag: fsck.fat -n after Tern wrote"
    mkdir back; mcopy -s -n -i "$at" "::*" back/ || fail "$tag: mcopy back"
    diff -r ref back || fail "$tag: mtools reads something else than Tern wrote"
    echo "ok $tag"
}

one 12 1 2
one 12 8 8
one 16 4 32
one 16 16 64
one 32 1 64
one 32 4 160
echo "PASS: FAT12/16/32 volumes by mkfs.fat and mtools, both directions"
