#!/usr/bin/env bash
# Builds Tern's bootable disk image with tools/tern-mkimage (core's own GPT
# and FAT code): GPT, an EFI System Partition holding EFI/BOOT/BOOTX64.EFI,
# and a data partition holding the site (index.html by default).
#
# usage: scripts/make-image.sh BUILD_DIR OUTPUT_IMG [SITE_DIR] [SIZE_MIB] [WORKLOAD]
#   BUILD_DIR  configured with meson/x86_64-baremetal.ini and built (it has
#              backends/baremetal/BOOTX64.EFI and the native tools/tern-mkimage
#              and tools/tern-pkg)
#   SITE_DIR   files for the data partition (default backends/baremetal/site)
#   SIZE_MIB   whole image (default 64; the ESP is FAT32, which needs ~33 MiB)
#   WORKLOAD   a signed package (NAME.tpk): installed into the data
#              partition's A/B slot A, active and confirmed (tern-pkg install;
#              docs/updates.md); or, for development only, a directory with a
#              manifest.json and the app file it names, copied to the ESP's
#              /tern (needs DEV=1: the kernel runs raw files only in
#              development mode). Without it the kernel runs its built-in
#              workload (the hello app).
# DEV=1 in the environment builds a development image: the ESP gets
# /tern/dev.json ({"allow_unsigned": true}), which lets the kernel run
# unsigned packages and raw manifests (said at WARN and in /status).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR OUTPUT_IMG [SITE_DIR] [SIZE_MIB] [WORKLOAD]" >&2; exit 2; }
build=$1
out=$2
src=$(cd "$(dirname "$0")/.." && pwd)
site=${3:-$src/backends/baremetal/site}
size=${4:-64}
workload=${5:-}
dev=${DEV:-0}
efi="$build/backends/baremetal/BOOTX64.EFI"
mkimage="$build/tools/tern-mkimage"
tpk="$build/tools/tern-pkg"
for f in "$efi" "$mkimage" "$tpk"; do
    [ -f "$f" ] || { echo "make-image: $f not found (build $build with the cross file first)" >&2; exit 2; }
done
[ -d "$site" ] || { echo "make-image: site directory $site not found" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/esp/EFI/BOOT"
cp "$efi" "$tmp/esp/EFI/BOOT/BOOTX64.EFI"
what="built-in hello"
if [ -d "$workload" ]; then
    [ -f "$workload/manifest.json" ] || { echo "make-image: $workload has no manifest.json" >&2; exit 2; }
    [ "$dev" = 1 ] || { echo "make-image: a raw workload directory runs only on a development image (DEV=1); give a signed .tpk" >&2; exit 2; }
    mkdir -p "$tmp/esp/tern"
    cp -r "$workload/." "$tmp/esp/tern/"
    what="raw /tern from $workload"
elif [ -n "$workload" ]; then
    [ -f "$workload" ] || { echo "make-image: $workload not found" >&2; exit 2; }
    what="package $(basename "$workload") in slot A"
fi
if [ "$dev" = 1 ]; then
    mkdir -p "$tmp/esp/tern"
    printf '{"allow_unsigned": true}\n' >"$tmp/esp/tern/dev.json"
    what="$what, DEVELOPMENT image"
fi
mkdir -p "$(dirname "$out")"
"$mkimage" --output "$out.tmp" --size "$size" --esp "$tmp/esp" --data "$site" --quiet
if [ -f "$workload" ]; then
    extra=()
    [ "$dev" = 1 ] && extra=(--allow-unsigned)
    "$tpk" install "${extra[@]}" "$out.tmp" "$workload" >/dev/null
fi
mv "$out.tmp" "$out"
echo "make-image: $out ($size MiB: ESP with EFI/BOOT/BOOTX64.EFI, $what, data partition from $site)"
