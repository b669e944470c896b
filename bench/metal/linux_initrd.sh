#!/usr/bin/env bash
# The Debian Linux guest the bare-metal benchmarks compare Tern with
# (bench/metal/linux_guest.sh, docs/performance.md): Debian's own kernel
# (the package linux-image-amd64 depends on) and busybox-static, fetched
# with `apt-get download` and unpacked with `dpkg-deb -x` into CACHE
# (once per version; nothing is installed into the host's /boot), and the
# host's nginx (package nginx) copied with the libraries ldd names. The
# initramfs (uncompressed newc cpio, CACHE/initrd.cpio, rebuilt each call)
# holds busybox, the virtio modules with their .modinfo dependency closure
# (virtio_pci for pc, virtio_mmio for microvm, virtio_net, virtio-rng),
# nginx (linux_nginx.conf: one worker, /healthz returns "ok", / Tern's
# index.html) and linux_init.sh as /init, which prints LINUX_MARK lines.
#
# The kernel comes twice: Debian's bzImage as packaged (vmlinuz, for pc:
# SeaBIOS loads it, the guest decompresses it) and the same kernel's
# vmlinux, its XZ payload decompressed on the host (CACHE/.../vmlinux,
# once): an ELF with the PVH note (CONFIG_PVH=y), which QEMU's microvm
# enters directly, as it enters Tern, without the guest-side XZ
# decompression that takes most of a bzImage boot under TCG.
#
# usage: bench/metal/linux_initrd.sh CACHE
# Prints five lines: the bzImage, the vmlinux, the initramfs, then
# "kernel: PKG VERSION  busybox: PKG VERSION" and the module list.
set -euo pipefail
[ $# -eq 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2; }
mkdir -p "$1"
cache=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
die() { echo "linux_initrd: $*" >&2; exit 1; }
for t in apt-get apt-cache dpkg-deb objcopy ldd nginx xz python3; do
    command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh test)"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-linux-initrd.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# fetch PKG: unpacks the candidate version of PKG into $cache (once per
# version) and prints the directory.
fetch() {
    local pkg=$1 ver dir
    ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
    [ -n "$ver" ] || die "apt-cache knows no $pkg (apt-get update?)"
    dir=$cache/${pkg}_${ver//:/%3a}
    if [ ! -f "$dir/.unpacked" ]; then
        mkdir -p "$cache/debs" "$dir"
        (cd "$cache/debs" && rm -f "${pkg}"_*.deb && apt-get download "$pkg" >"$tmp/apt.log" 2>&1) \
            || { cat "$tmp/apt.log" >&2; die "apt-get download $pkg failed"; }
        dpkg-deb -x "$cache/debs/${pkg}"_*.deb "$dir"
        echo "$pkg $ver" >"$dir/.unpacked"
    fi
    echo "$dir"
}
kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || die "cannot resolve the kernel package linux-image-amd64 depends on"
kdir=$(fetch "$kpkg")
bbdir=$(fetch busybox-static)
vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
moddir=$(ls -d "$kdir"/lib/modules/*)
if [ ! -s "$kdir/vmlinux" ]; then
    xzoff=$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().find(b"\xfd7zXZ\x00"))' "$vmlinuz")
    [ "$xzoff" -ge 0 ] || die "no XZ payload in $vmlinuz"
    tail -c +$((xzoff + 1)) "$vmlinuz" >"$tmp/payload"
    xz -dc --single-stream <"$tmp/payload" >"$tmp/vmlinux" || die "decompressing $vmlinuz failed"
    mv "$tmp/vmlinux" "$kdir/vmlinux"
fi

root=$tmp/initramfs
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,usr/sbin,lib/modules,nginx/www,nginx/tmp}
cp "$bbdir/bin/busybox" "$root/bin/busybox"
for a in sh mount insmod usleep sleep ip udhcpc awk cat free; do ln -s busybox "$root/bin/$a"; done

# Modules: depth-first over .modinfo's depends=, dependencies first.
modlist=()
modfile() { find "$moddir/kernel" -name "$(echo "$1" | sed 's/[-_]/[-_]/g').ko" | head -1; }
adddeps() {
    local m=$1 f d
    for d in "${modlist[@]:-}"; do [ "$d" = "$m" ] && return 0; done
    f=$(modfile "$m")
    [ -n "$f" ] || die "module $m not in $kpkg"
    objcopy -O binary -j .modinfo "$f" "$tmp/modinfo"
    for d in $(tr '\0' '\n' <"$tmp/modinfo" | sed -n 's/^depends=//p' | tr ',' ' '); do adddeps "$d"; done
    modlist+=("$m")
    cp "$f" "$root/lib/modules/$m.ko"
}
for m in virtio_pci virtio_mmio virtio_net virtio-rng; do adddeps "$m"; done
printf '%s\n' "${modlist[@]}" >"$root/etc/modules"

# nginx and the libraries it links (as ldd names them, the loader too).
cp /usr/sbin/nginx "$root/usr/sbin/nginx"
for lib in $(ldd /usr/sbin/nginx | awk '/=> \// {print $3} /^[ \t]*\/[^ ]*ld-linux/ {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
cp "$here/linux_nginx.conf" "$root/nginx/nginx.conf"
cp "$src/backends/baremetal/site/index.html" "$root/nginx/www/index.html"
cp "$here/linux_init.sh" "$root/init"
cp "$here/linux_udhcpc.sh" "$root/etc/udhcpc.sh"
chmod 755 "$root/init" "$root/etc/udhcpc.sh"
printf 'root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\n' >"$root/etc/nsswitch.conf"
mknod "$root/dev/console" c 5 1 2>/dev/null || true
(cd "$root" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) >"$tmp/initrd.cpio"
mv "$tmp/initrd.cpio" "$cache/initrd.cpio"
echo "$vmlinuz"
echo "$kdir/vmlinux"
echo "$cache/initrd.cpio"
echo "kernel: $(cat "$kdir/.unpacked")  busybox: $(cat "$bbdir/.unpacked")"
echo "${modlist[*]}"
