#!/usr/bin/env bash
# Runs the power-cut test on a FAT16 and a FAT32 volume made by mkfs.fat.
# usage: powercut.sh POWERCUT
set -u
. "$(dirname "$0")/lib.sh"
need_tools
PC=$(realpath "$1")
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"
head -c 4000 /dev/urandom > keep.bin
head -c 2500 /dev/urandom > pre.bin
head -c 9000 /dev/urandom > pre2.bin
for spec in "16 4 1" "32 34 1"; do
    set -- $spec
    rm -f base.img; truncate -s "$2M" base.img
    mkfs.fat -F "$1" -s "$3" base.img >/dev/null 2>&1 || fail "mkfs.fat"
    for f in keep.bin pre.bin pre2.bin; do mcopy -i base.img $f ::$f || fail "mcopy"; done
    fsck_clean base.img || fail "base image not clean"
    echo "== FAT$1"
    "$PC" base.img scratch.img || fail "power-cut on FAT$1"
done
