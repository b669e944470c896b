#!/usr/bin/env bash
# Builds Tern's bootable disk image with tools/tern-mkimage (core's own GPT
# and FAT code): GPT, an EFI System Partition holding EFI/BOOT/BOOTX64.EFI,
# and a data partition holding the site (index.html by default).
#
# usage: scripts/make-image.sh BUILD_DIR OUTPUT_IMG [SITE_DIR] [SIZE_MIB] [WORKLOAD_DIR]
#   BUILD_DIR  configured with meson/x86_64-baremetal.ini and built (it has
#              backends/baremetal/BOOTX64.EFI and the native tools/tern-mkimage)
#   SITE_DIR   files for the data partition (default backends/baremetal/site)
#   SIZE_MIB   whole image (default 64; the ESP is FAT32, which needs ~33 MiB)
#   WORKLOAD_DIR  a manifest.json and the app file it names, copied to the
#              ESP's /tern (docs/apps.md); without it the kernel runs its
#              built-in workload (the hello app)
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR OUTPUT_IMG [SITE_DIR] [SIZE_MIB] [WORKLOAD_DIR]" >&2; exit 2; }
build=$1
out=$2
src=$(cd "$(dirname "$0")/.." && pwd)
site=${3:-$src/backends/baremetal/site}
size=${4:-64}
workload=${5:-}
efi="$build/backends/baremetal/BOOTX64.EFI"
mkimage="$build/tools/tern-mkimage"
for f in "$efi" "$mkimage"; do
    [ -f "$f" ] || { echo "make-image: $f not found (build $build with the cross file first)" >&2; exit 2; }
done
[ -d "$site" ] || { echo "make-image: site directory $site not found" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/esp/EFI/BOOT"
cp "$efi" "$tmp/esp/EFI/BOOT/BOOTX64.EFI"
if [ -n "$workload" ]; then
    [ -f "$workload/manifest.json" ] || { echo "make-image: $workload has no manifest.json" >&2; exit 2; }
    mkdir -p "$tmp/esp/tern"
    cp -r "$workload/." "$tmp/esp/tern/"
fi
mkdir -p "$(dirname "$out")"
"$mkimage" --output "$out.tmp" --size "$size" --esp "$tmp/esp" --data "$site" --quiet
mv "$out.tmp" "$out"
echo "make-image: $out ($size MiB: ESP with EFI/BOOT/BOOTX64.EFI${workload:+ and /tern from $workload}, data partition from $site)"
