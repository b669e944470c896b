#!/bin/sh
# readelf as referee on the loader's test apps: each must be what an app is
# (docs/loader.md): ELF64 x86-64 ET_DYN, no PT_INTERP, no DT_NEEDED, no
# text relocations, a non-executable stack, and the Tern ABI note in a
# PT_NOTE. Usage: check_apps.sh APP.elf...
set -eu
fail() { echo "FAIL $app: $*"; exit 1; }
for app in "$@"; do
    h=$(readelf -hW "$app")
    echo "$h" | grep -q 'Class: *ELF64' || fail "not ELF64"
    echo "$h" | grep -q 'Type: *DYN' || fail "not ET_DYN"
    echo "$h" | grep -q 'Machine: *Advanced Micro Devices X86-64' || fail "not x86-64"
    l=$(readelf -lW "$app")
    echo "$l" | grep -q ' INTERP ' && fail "has PT_INTERP"
    echo "$l" | grep -q ' NOTE ' || fail "no PT_NOTE"
    echo "$l" | grep -E ' GNU_STACK ' | grep -q 'RW ' || fail "stack not RW"
    d=$(readelf -dW "$app")
    echo "$d" | grep -q '(NEEDED)' && fail "has DT_NEEDED"
    echo "$d" | grep -q 'TEXTREL' && fail "has TEXTREL"
    n=$(readelf -nW "$app")
    echo "$n" | grep -A1 '^ *Tern ' | grep -q '0x41424931' || fail "no Tern ABI note"
    echo "$n" | grep -A2 '^ *Tern ' | grep -q 'description data: 01 00 00 00 00 00 00 00' \
        || fail "note is not PAL 1.0"
    echo "ok $app"
done
