#!/usr/bin/env bash
# Images made by tern-mkimage pass sgdisk -v and fsck.fat -n, and mtools
# reads every file back byte-exact; tern-mkimage refuses bad arguments.
# usage: mkimage_referee.sh TERN_MKIMAGE FATCTL
set -u
. "$(dirname "$0")/lib.sh"
need_tools
MK=$(realpath "$1"); FATCTL=$(realpath "$2")
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"

# A tree: hundreds of files, long names, nested directories, empty files,
# a file of several megabytes, mixed-case and non-ASCII names.
mkdir -p esp/EFI/BOOT data/www/assets data/deep/a/b/c/d/e/f/g
head -c 70000 /dev/urandom > esp/EFI/BOOT/BOOTX64.EFI
echo '{"app":"x"}' > esp/tern.json
for i in $(seq 1 400); do printf 'file %d\n' "$i" > "data/www/assets/A rather long file name number $i.txt"; done
for i in $(seq 1 40); do head -c $((i * 1000)) /dev/urandom > "data/www/f$i.bin"; done
head -c 6000000 /dev/urandom > data/big.bin
: > data/empty
: > data/www/Empty Long Name.dat
echo leaf > data/deep/a/b/c/d/e/f/g/leaf.txt
echo lower > data/readme.txt
echo mixed > data/MixedCase.Html
echo utf > "data/caf$(printf '\xc3\xa9') na$(printf '\xc3\xaf')ve.txt"

"$MK" --output d.img --size 64 --esp esp --data data 2>mk.log || { cat mk.log; fail "tern-mkimage failed"; }
grep -q "(done)" mk.log || fail "no progress report"
sgdisk -v d.img | grep -q "No problems found" || { sgdisk -v d.img; fail "sgdisk -v"; }
sgdisk -i 1 d.img | grep -q "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" || fail "ESP type GUID"
sgdisk -i 2 d.img | grep -q "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" || fail "data type GUID"
for p in 1 2; do
    extract d.img $p p$p.img
    fsck_clean p$p.img || fail "fsck.fat -n on partition $p"
done
fsck.fat -n -v p1.img | grep -q "32 bit entries" || fail "ESP is not FAT32"
# mtools reads every file back byte-exact, through -i IMG@@OFFSET too.
mkdir m1 m2
mcopy -s -n -i p1.img ::/ m1/ || fail "mcopy ESP"
mcopy -s -n -i "d.img@@$(( $(part_start d.img 2) * 512 ))" ::/ m2/ || fail "mcopy data"
diff -r esp m1 || fail "ESP differs under mtools"
diff -r data m2 || fail "data differs under mtools"
# Tern's own reader agrees.
mkdir t2; "$FATCTL" d.img --part 2 export / t2 || fail "fatctl export"
diff -r data t2 || fail "data differs under Tern"
"$FATCTL" d.img --part 2 check | grep -q "lost=0" || fail "check"

# 4096-byte sectors: Tern writes and reads them back.
"$MK" --output s4.img --size 300 --sector 4096 --data data --quiet || fail "4096-byte sectors"
mkdir t4; "$FATCTL" s4.img --sector 4096 --part 2 export / t4 || fail "export 4096"
diff -r data t4 || fail "4096-byte-sector image differs"
# fsck.fat judges both 4096-byte-sector volumes (sgdisk reads files as
# 512-byte-sector disks, so the ranges come from Tern's GPT reader).
"$FATCTL" s4.img --sector 4096 gpt > s4.gpt || fail "gpt 4096"
for p in 1 2; do
    read -r _ first last _ < <(grep "^$p " s4.gpt)
    dd if=s4.img of=s4p$p.img bs=4096 skip="$first" count=$((last - first + 1)) status=none
    fsck_clean s4p$p.img || fail "fsck.fat -n on 4096-byte-sector partition $p"
    fsck.fat -n -v s4p$p.img | grep -q "4096 bytes per logical sector" || fail "not 4096-byte sectors"
done
mkdir m4; mcopy -s -n -i s4p2.img ::/ m4/ || fail "mcopy 4096"
diff -r data m4 || fail "mtools reads the 4096-byte-sector volume differently"

# Reproducible (docs/reproducible.md): the same trees give the same bytes,
# whatever their mtimes and paths; SOURCE_DATE_EPOCH is every FAT stamp,
# clamped to FAT's 1980..2107 (default 2020-01-01 00:00); one byte more in
# one file gives other GUIDs and serials.
"$MK" --output r1.img --size 40 --esp esp --data data/www --quiet || fail "r1"
cp -R esp esp-copy; cp -R data/www www-copy
touch -d '2003-04-05 06:07:08' esp-copy/tern.json www-copy
"$MK" --output r2.img --size 40 --esp esp-copy --data www-copy --quiet || fail "r2"
cmp -s r1.img r2.img || fail "the same trees gave different images"
stamp_of() {    # IMG PARTITION PATH: mdir's date and time of PATH
    mdir -i "$1@@$(( $(part_start "$1" "$2") * 512 ))" "$3" | grep -o '[0-9]\{4\}-[0-9-]*  *[0-9:]*' | head -1
}
[ "$(stamp_of r1.img 1 ::/tern.json)" = "2020-01-01   0:00" ] || fail "default stamp: $(stamp_of r1.img 1 ::/tern.json)"
for t in "0 1980-01-01   0:00" "1700000000 2023-11-14  22:13" "9999999999 2107-12-31  23:59"; do
    SOURCE_DATE_EPOCH=${t%% *} "$MK" --output r3.img --size 40 --esp esp --data data/www --quiet ||
        fail "SOURCE_DATE_EPOCH=${t%% *}"
    for w in "1 ::/tern.json" "1 ::/EFI" "2 ::/f1.bin" "2 ::/assets"; do
        got=$(stamp_of r3.img $w)
        [ "$got" = "${t#* }" ] || fail "SOURCE_DATE_EPOCH=${t%% *}: $w stamped '$got', not '${t#* }'"
    done
done
guids() { sgdisk -p "$1" | grep 'Disk identifier'; sgdisk -i 1 "$1" | grep 'unique GUID'; sgdisk -i 2 "$1" | grep 'unique GUID'; }
echo more >> www-copy/f1.bin
"$MK" --output r4.img --size 40 --esp esp-copy --data www-copy --quiet || fail "r4"
[ "$(guids r1.img | sort -u | wc -l)" = 3 ] || fail "the disk and partition GUIDs are not three different ones"
[ -z "$(comm -12 <(guids r1.img | sort) <(guids r4.img | sort))" ] ||
    fail "a changed file kept a GUID: $(guids r1.img) / $(guids r4.img)"
out=$(SOURCE_DATE_EPOCH=yesterday "$MK" --output x.img --size 40 2>&1); rc=$?
[ $rc = 2 ] && printf '%s\n' "$out" | grep -q "SOURCE_DATE_EPOCH='yesterday' is not" ||
    fail "SOURCE_DATE_EPOCH=yesterday: exit $rc, $out"

# Refusals with clear messages.
out=$("$MK" --output x.img --size 10 2>&1) && fail "10 MiB accepted"
printf '%s\n' "$out" | grep -q "minimum is" || fail "no minimum in: $out"
out=$("$MK" --output x.img --size 64 --esp-size 8 2>&1) && fail "8 MiB ESP accepted"
printf '%s\n' "$out" | grep -q "FAT32 ESP needs at least" || fail "no ESP minimum in: $out"
"$MK" --output x.img --size abc 2>/dev/null && fail "--size abc accepted"
"$MK" --output x.img --size 64 --data /nonexistent 2>/dev/null && fail "missing --data accepted"
mkdir bad; echo x > 'bad/what?.txt'
out=$("$MK" --output x.img --size 64 --data bad 2>&1) && fail "name with ? accepted"
printf '%s\n' "$out" | grep -q "not a valid FAT name" || fail "unclear refusal: $out"
[ -e x.img ] && fail "a failed run left its image behind"
# Too much data for the size.
out=$("$MK" --output x.img --size 40 --data data 2>&1) && fail "overfull image accepted"
printf '%s\n' "$out" | grep -q "full" || fail "unclear refusal: $out"
echo "PASS: tern-mkimage images pass sgdisk, fsck.fat and mtools"
