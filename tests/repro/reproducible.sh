#!/usr/bin/env bash
# Reproducible builds (docs/reproducible.md): builds what Tern ships twice,
# from two copies of the source tree in two fresh places, and compares the
# results byte for byte: BOOTX64.EFI, the apps and their signed packages
# (deterministic ECDSA), tern-linux, tern-mkimage and the disk image
# `make image` makes (the hello workload's signed package in slot A), by
# default and with SOURCE_DATE_EPOCH set.
#
# The two builds differ in everything that must not matter: source and
# build paths (the first is the parent build, SRC/build as `make build`
# makes it; the second a fresh build of a copy, out of tree at another
# depth), file mtimes (the second copy is touched to 2001), the
# user (nobody, when run as root), umask, TZ, locale, and the time of day.
# A difference is reported per file with where it is (diffreport.py:
# sections, headers, GPT and FAT regions, strings only in one build).
#
# usage: reproducible.sh SOURCE_ROOT PARENT_BUILD_DIR
#   PARENT_BUILD_DIR: a cross build (make build); its fetched third-party
#   sources (BUILD/sources) are copied, so nothing is downloaded.
set -euo pipefail
. "$(dirname "$0")/../integration/lib.sh"

[ $# -eq 2 ] || { echo "usage: $0 SOURCE_ROOT PARENT_BUILD_DIR" >&2; exit 2; }
src=$(cd "$1" && pwd)
parent=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
for p in meson ninja python3 sgdisk fsck.fat mdir; do
    command -v "$p" >/dev/null || skip "$p not installed"
done
for s in musl mbedtls cjson; do
    [ -f "$parent/sources/$s/.tern-source" ] || skip "$parent/sources/$s: not a cross build"
done

targets=(backends/baremetal/BOOTX64.EFI apps/hello.elf apps/kv.elf apps/echo.elf
         apps/hello.tpk apps/kv.tpk apps/echo.tpk
         backends/linux/tern-linux tools/tern-mkimage tools/tern-pkg)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-repro.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# copy_source DEST: the source tree as git sees it (tracked files that
# exist and untracked ones not ignored, as they are on disk), or all of it
# but build directories when it is not a git checkout.
copy_source() {
    mkdir -p "$1"
    if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$src" && git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done |
            xargs -0 cp --parents -P -t "$1")
    else
        (cd "$src" && find . -mindepth 1 -maxdepth 1 ! -name 'build*' ! -name '.git' \
            -exec cp -R -t "$1" {} +)
    fi
}

# sources_into BUILD: the parent's fetched sources (not its apt state).
sources_into() {
    mkdir -p "$1/sources"
    for s in musl mbedtls cjson; do
        cp -R "$parent/sources/$s" "$1/sources/"
    done
}

# The first build is the parent (the tree's own, in SRC/build); the second
# a fresh one from a copy, out of tree at another depth.
one=$src
two=$tmp/two/a/b/tern-second-copy
b1=$parent
b2=$tmp/two/elsewhere/out-of-tree
copy_source "$two"
sources_into "$b2"
find "$two" "$b2" -exec touch -h -d '2001-02-03 04:05:06' {} +

# The second build runs as nobody when this runs as root.
as_other=()
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    chown -R nobody:nogroup "$tmp/two"
    as_other=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi

# build SRC BUILD LOG [ENV...]: configures with the cross file and builds
# the shipped targets; on failure shows the log's end.
build() {
    local s=$1 b=$2 log=$3
    shift 3
    if ! env "$@" sh -c 'cd "$1" && shift 2 && meson setup "$0" --cross-file meson/x86_64-baremetal.ini -Dqemu_tests=false && ninja -C "$0" "$@"' \
            "$b" "$s" x "${targets[@]}" > "$log" 2>&1; then
        tail -40 "$log" >&2
        fail "build in $b failed (log above)"
    fi
}

start=$(date +%s)
ninja -C "$b1" "${targets[@]}" > "$tmp/build-one.log" 2>&1 ||
    { tail -40 "$tmp/build-one.log" >&2; fail "the parent build $b1 failed"; }
build "$two" "$b2" "$tmp/build-two.log" HOME="$tmp/two" TZ=Pacific/Kiritimati \
    LC_ALL=C.UTF-8 "${as_other[@]}" sh -c 'umask 077; exec "$@"' umask-sh
echo "the second build in $(( $(date +%s) - start )) s"

# image SRC BUILD OUT [ENV...]: what `make image` does (the hello
# workload's signed package, apps/hello.tpk, in slot A).
image() {
    local s=$1 b=$2 out=$3
    shift 3
    env "$@" sh -c 'set -e
        "$1/scripts/make-image.sh" "$2" "$3" "" 64 "$2/apps/hello.tpk" >/dev/null' \
        img "$s" "$b" "$out" || fail "make-image in $b failed"
}
i1=$tmp/one-images
mkdir -p "$i1"
image "$one" "$b1" "$i1/tern.img" TZ=UTC
image "$two" "$b2" "$b2/tern.img" TZ=Pacific/Kiritimati MALLOC_PERTURB_=165 \
    "${as_other[@]}"
image "$one" "$b1" "$i1/tern-sde.img" SOURCE_DATE_EPOCH=1700000000
image "$two" "$b2" "$b2/tern-sde.img" SOURCE_DATE_EPOCH=1700000001 "${as_other[@]}"

differ=()
for f in "${targets[@]}" tern.img tern-sde.img; do
    f1=$b1/$f
    case $f in *.img) f1=$i1/$f ;; esac
    if ! cmp -s "$f1" "$b2/$f"; then
        differ+=("$f")
        python3 "$here/diffreport.py" "$f1" "$b2/$f" >&2 || true
    fi
done
if [ ${#differ[@]} -gt 0 ]; then
    fail "not reproducible: ${differ[*]} differ between $b1 and $b2 (above)"
fi

# The images are valid for the referees, not just equal.
sgdisk -v "$i1/tern.img" | grep -q "No problems found" || fail "sgdisk -v: $i1/tern.img"
part() { sgdisk -i "$2" "$1" | sed -n "s/^$3 sector: \([0-9]*\).*/\1/p"; }
for p in 1 2; do
    first=$(part "$i1/tern.img" $p First)
    last=$(part "$i1/tern.img" $p Last)
    dd if="$i1/tern.img" of="$tmp/p$p.img" bs=512 skip="$first" count=$((last - first + 1)) \
        status=none
    fsck.fat -n "$tmp/p$p.img" >/dev/null || fail "fsck.fat -n: partition $p of $i1/tern.img"
done
# SOURCE_DATE_EPOCH is what the FAT stamps say (2023-11-14 22:13:20 UTC);
# without it, 2020-01-01 00:00.
first=$(part "$i1/tern-sde.img" 1 First)
mdir -i "$i1/tern-sde.img@@$((first * 512))" ::/EFI/BOOT | grep -q 'BOOTX64  EFI .* 2023-11-14  22:13' ||
    fail "SOURCE_DATE_EPOCH=1700000000: BOOTX64.EFI is not stamped 2023-11-14 22:13"
mdir -i "$i1/tern.img@@$((first * 512))" ::/EFI/BOOT | grep -q 'BOOTX64  EFI .* 2020-01-01   0:00' ||
    fail "no SOURCE_DATE_EPOCH: BOOTX64.EFI is not stamped 2020-01-01 00:00"

cmp -s "$i1/tern.img" "$i1/tern-sde.img" && fail "SOURCE_DATE_EPOCH made no difference to the image"
echo "reproducible: ${targets[*]} tern.img tern-sde.img equal byte for byte" \
     "(second build as $(stat -c %U "$b2/build.ninja"), out of tree;" \
     "$(( $(stat -c %s "$i1/tern.img") >> 20 )) MiB images, $(stat -c %s "$b1/backends/baremetal/BOOTX64.EFI") bytes of EFI)"
