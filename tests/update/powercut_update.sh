#!/usr/bin/env bash
# Runs the A/B update power-cut test on a FAT16 and a FAT32 volume made by
# mkfs.fat (tests/update/powercut_update.c says what each cut must give).
# usage: powercut_update.sh POWERCUT_UPDATE
set -u
. "$(dirname "$0")/../storage/lib.sh"
need_tools
PC=$(realpath "$1")
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"
for spec in "16 4 1" "32 34 1"; do
    set -- $spec
    rm -f base.img; truncate -s "$2M" base.img
    mkfs.fat -F "$1" -s "$3" base.img >/dev/null 2>&1 || fail "mkfs.fat"
    fsck_clean base.img || fail "base image not clean"
    echo "== FAT$1"
    "$PC" base.img scratch.img || fail "update power-cut on FAT$1"
done
