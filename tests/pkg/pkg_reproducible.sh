#!/usr/bin/env bash
# Packages are reproducible (docs/packages.md): each example app, built
# twice by the apps' own recipe (apps/meson.build) and packaged by
# tern-pkg in two different build folders — different paths and depths,
# working directories, umasks, input time stamps and SOURCE_DATE_EPOCH —
# gives byte-identical unsigned packages, equal to the ones meson built.
# A difference is reported with the offsets and both inspect listings.
#
# usage: pkg_reproducible.sh TERN_PKG SRC_ROOT MESON_APPS_DIR CLANG FLAG... \
#            -- SDK_SOURCE... -- NAME...
set -u
tp=$(realpath "$1"); src=$(realpath "$2"); built=$(realpath "$3"); clang=$4; shift 4
flags=(); sdk=(); names=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done; shift
while [ $# -gt 0 ] && [ "$1" != -- ]; do sdk+=("$(realpath "$1")"); shift; done; shift
names=("$@")
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
failures=0

# build_in DIR UMASK EPOCH STAMP NAME: the app and its package, in DIR.
build_in() {
    local dir=$1 mask=$2 epoch=$3 stamp=$4 name=$5
    mkdir -p "$dir"
    (
        cd "$dir" || exit 1
        umask "$mask"
        export SOURCE_DATE_EPOCH=$epoch
        cp "$src/fixtures/manifests/$name.json" manifest-in.json
        touch -d "$stamp" manifest-in.json
        "$clang" "${flags[@]}" "$src/apps/$name/$name.c" "${sdk[@]}" -o "$name.elf" || exit 1
        touch -d "$stamp" "$name.elf"
        "$tp" build --manifest manifest-in.json --file "$name.elf=$name.elf" -o "$name.tpk"
    )
}

report() {
    echo "FAIL: $1 and $2 differ:"
    cmp -l "$1" "$2" | head -10
    diff <("$tp" inspect "$1") <("$tp" inspect "$2")
    failures=$((failures + 1))
}

for name in "${names[@]}"; do
    a=$top/a; b=$top/some/much/deeper/folder-b
    build_in "$a" 022 1 "2001-01-01 00:00" "$name" || { echo "FAIL: build $name in $a"; exit 1; }
    build_in "$b" 077 1700000000 "2030-06-15 12:34" "$name" || { echo "FAIL: build $name in $b"; exit 1; }
    cmp -s "$a/$name.elf" "$b/$name.elf" || report "$a/$name.elf" "$b/$name.elf"
    cmp -s "$a/$name.tpk" "$b/$name.tpk" || report "$a/$name.tpk" "$b/$name.tpk"
    cmp -s "$a/$name.tpk" "$built/$name.unsigned.tpk" || report "$a/$name.tpk" "$built/$name.unsigned.tpk"
    # No build path inside (the folders' names are unusual enough to find).
    grep -c -a -e "$top" -e folder-b "$a/$name.tpk" "$b/$name.tpk" | grep -v ':0$' &&
        { echo "FAIL: a build path inside $name.tpk"; failures=$((failures + 1)); }
    echo "$name: $(sha256sum <"$a/$name.tpk" | cut -c1-16)... identical in both folders and meson's"
    rm -rf "$top/a" "$top/some"
done
[ "$failures" -eq 0 ] || exit 1
