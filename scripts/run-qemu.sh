#!/usr/bin/env bash
# Boots Tern's UEFI image under QEMU + OVMF with TCG.
#
# usage: scripts/run-qemu.sh BUILD_DIR [options] [extra qemu args...]
#   BUILD_DIR  a meson build dir configured with meson/x86_64-baremetal.ini
#              (it holds backends/baremetal/BOOTX64.EFI)
#   options (before the extra args, any order):
#     --image IMG     boot Tern's own disk image (scripts/make-image.sh) as a
#                     virtio-blk disk instead of an ESP directory with the EFI
#     --net PORT      virtio-net on QEMU's user network, restricted (no
#                     outbound), hostfwd tcp 127.0.0.1:PORT -> guest port 80
#     --tap IFNAME    virtio-net on an existing TAP device (tests create it
#                     inside a network namespace they own)
#     --rng           virtio-rng (host /dev/urandom)
#     --legacy        virtio devices with disable-modern=on (0.9.5 transport)
#     --mem SIZE      -m SIZE instead of 256M
#     --cpu MODEL     -cpu MODEL instead of max; "default" passes no -cpu at
#                     all (QEMU's default model, qemu64: no RDRAND/RDSEED)
#     --smp N         N vCPUs instead of 1 (Tern runs on the first)
#     --ram thp       QEMU's default anonymous guest RAM (see below) instead
#                     of a memfd
#     --no-debug-exit without isa-debug-exit (the guest then powers off
#                     through ACPI S5 and QEMU exits with status 0)
#   extra args are appended, e.g. -fw_cfg name=opt/tern/cmdline,string=halt=7
#              or -s -S to wait for gdb (docs/baremetal.md).
#
# Serial (COM1) is stdio. The guest leaves through isa-debug-exit, so the
# exit status is (code << 1) | 1: TERN_HALT code=0 -> 1, code=7 -> 15,
# a panic -> 71. A triple fault ends QEMU (-no-reboot) with status 0.
# Networking is off (-nic none) unless --net. The NIC gets no option ROM
# (romfile=): Tern never network-boots, and iPXE's teardown in
# ExitBootServices cost 50-90 ms of every boot under TCG (OVMF's own
# virtio-net driver: ~3 ms). Guest RAM is a memfd (4 KiB pages): QEMU
# madvises its default RAM for transparent huge pages, and on a host that
# is itself a VM each first touch of a fresh 2 MiB region then cost 5-10
# ms, so a boot's guest clock measured the host's page faults more than
# the guest (docs/performance.md; bench/metal/linux_guest.sh gives its
# Linux guest the same memory). Per-run files (the ESP directory and a
# writable copy of the OVMF variable store) live in a temporary directory
# removed on exit.
set -euo pipefail
. "$(dirname "$0")/qemu-child.sh"

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [qemu args...]" >&2; exit 2; }
build=$1
shift
image= net_port= tap= rng= legacy= mem=256M cpu=max smp=1 ram=memfd debug_exit=(-device isa-debug-exit,iobase=0xf4,iosize=0x04)
while [ $# -gt 0 ]; do
    case $1 in
        --image) image=$2; shift 2 ;;
        --net) net_port=$2; shift 2 ;;
        --tap) tap=$2; shift 2 ;;
        --rng) rng=1; shift ;;
        --legacy) legacy=",disable-modern=on"; shift ;;
        --mem) mem=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --ram) ram=$2; shift 2 ;;
        --no-debug-exit) debug_exit=(); shift ;;
        *) break ;;
    esac
done
efi="$build/backends/baremetal/BOOTX64.EFI"
[ -f "$efi" ] || { echo "run-qemu: $efi not found (configure $build with the cross file and build it)" >&2; exit 2; }

ovmf_dir=${OVMF_DIR:-/usr/share/OVMF}
code="$ovmf_dir/OVMF_CODE_4M.fd"
vars="$ovmf_dir/OVMF_VARS_4M.fd"
for f in "$code" "$vars"; do
    [ -f "$f" ] || { echo "run-qemu: $f not found (Debian package: ovmf)" >&2; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "run-qemu: qemu-system-x86_64 not found (Debian package: qemu-system-x86)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-qemu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$vars" "$tmp/vars.fd"
devs=()
if [ -n "$image" ]; then
    [ -f "$image" ] || { echo "run-qemu: image $image not found (make image)" >&2; exit 2; }
    devs+=(-drive "if=none,id=disk0,format=raw,file=$image"
           -device "virtio-blk-pci,drive=disk0$legacy")
else
    mkdir -p "$tmp/esp/EFI/BOOT"
    cp "$efi" "$tmp/esp/EFI/BOOT/BOOTX64.EFI"
    devs+=(-drive "format=raw,file=fat:rw:$tmp/esp")
fi
if [ -n "$net_port" ]; then
    devs+=(-netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$net_port-:80"
           -device "virtio-net-pci,netdev=net0,romfile=$legacy")
elif [ -n "$tap" ]; then
    devs+=(-netdev "tap,id=net0,ifname=$tap,script=no,downscript=no"
           -device "virtio-net-pci,netdev=net0,romfile=$legacy")
else
    devs+=(-nic none)
fi
[ -n "$rng" ] && devs+=(-device "virtio-rng-pci$legacy")
cpu_args=(-cpu "$cpu")
[ "$cpu" = default ] && cpu_args=()
case $ram in
    memfd) devs+=(-object "memory-backend-memfd,id=ram0,size=$mem" -machine memory-backend=ram0) ;;
    thp) ;;
    *) echo "run-qemu: --ram $ram: expected memfd or thp" >&2; exit 2 ;;
esac

# QEMU runs as a child so the temporary directory is removed afterwards.
trap 'rm -rf "$tmp"' EXIT
status=0
qemu_as_child \
    -accel tcg "${cpu_args[@]}" -m "$mem" -smp "$smp" \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$code" \
    -drive "if=pflash,format=raw,unit=1,file=$tmp/vars.fd" \
    -nodefaults -serial stdio -display none -monitor none -no-reboot \
    "${debug_exit[@]}" \
    "${devs[@]}" \
    "$@" || status=$?
exit $status
