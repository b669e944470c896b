#!/usr/bin/env bash
# Boots Tern's PVH kernel on QEMU's microvm machine (TCG): no firmware
# of Tern's choosing, no PCI, virtio devices on MMIO (docs/microvm.md).
#
# usage: scripts/run-microvm.sh BUILD_DIR [options] [extra qemu args...]
#   BUILD_DIR  a meson build dir configured with meson/x86_64-baremetal.ini
#              (it holds backends/baremetal/tern-microvm.elf)
#   options (before the extra args, any order):
#     --image IMG     Tern's disk image (scripts/make-image.sh: the data
#                     volume and the workload) as virtio-blk-device
#     --net PORT      virtio-net-device on QEMU's user network, restricted
#                     (no outbound), hostfwd tcp 127.0.0.1:PORT -> guest 80
#     --tap IFNAME    virtio-net-device on an existing TAP device
#     --rng           virtio-rng-device (host /dev/urandom); QEMU's default
#                     CPU (qemu64) has no RDRAND, so a boot needs it there
#     --modern        virtio-mmio version 2 (virtio 1.x):
#                     -global virtio-mmio.force-legacy=false
#     --legacy        the legacy version 1 layout (QEMU 7.2's default):
#                     -global virtio-mmio.force-legacy=true
#     --append TEXT   the kernel command line (Tern's tokens: halt=, ip=,
#                     log=... as with fw_cfg on UEFI; docs/baremetal.md)
#     --mem SIZE      -m SIZE instead of 256M
#     --cpu MODEL     -cpu MODEL (default: none, QEMU's default model)
#     --no-acpi       -M microvm,acpi=off: no DSDT, so QEMU appends
#                     virtio_mmio.device=... to the command line instead
#     --no-debug-exit without isa-debug-exit (the guest then powers off
#                     through ACPI S5, the sleep control register, and
#                     QEMU exits with status 0)
#   extra args are appended, e.g. -qmp unix:SOCK,server=on,wait=off.
#
# Serial (COM1) is stdio. With isa-debug-exit (the default) the exit
# status is (code << 1) | 1, as with scripts/run-qemu.sh: TERN_HALT
# code=0 -> 1, a panic -> 71. -no-reboot: a reset ends QEMU with status 0.
# Guest RAM is a memfd, as in run-qemu.sh (no host huge-page faults on
# first touch).
set -euo pipefail
. "$(dirname "$0")/qemu-child.sh"

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [options] [qemu args...]" >&2; exit 2; }
build=$1
shift
image= net_port= tap= rng= transport=() append= mem=256M cpu= machine=microvm
debug_exit=(-device isa-debug-exit,iobase=0xf4,iosize=0x04)
while [ $# -gt 0 ]; do
    case $1 in
        --image) image=$2; shift 2 ;;
        --net) net_port=$2; shift 2 ;;
        --tap) tap=$2; shift 2 ;;
        --rng) rng=1; shift ;;
        --modern) transport=(-global virtio-mmio.force-legacy=false); shift ;;
        --legacy) transport=(-global virtio-mmio.force-legacy=true); shift ;;
        --append) append=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        --no-acpi) machine=microvm,acpi=off; shift ;;
        --no-debug-exit) debug_exit=(); shift ;;
        *) break ;;
    esac
done
kernel="$build/backends/baremetal/tern-microvm.elf"
[ -f "$kernel" ] || { echo "run-microvm: $kernel not found (make microvm-image)" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "run-microvm: qemu-system-x86_64 not found (Debian package: qemu-system-x86)" >&2; exit 2; }

devs=()
if [ -n "$image" ]; then
    [ -f "$image" ] || { echo "run-microvm: image $image not found (make microvm-image)" >&2; exit 2; }
    devs+=(-drive "id=d,file=$image,format=raw,if=none" -device virtio-blk-device,drive=d)
fi
if [ -n "$net_port" ]; then
    devs+=(-netdev "user,id=n,restrict=on,hostfwd=tcp:127.0.0.1:$net_port-:80"
           -device virtio-net-device,netdev=n)
elif [ -n "$tap" ]; then
    devs+=(-netdev "tap,id=n,ifname=$tap,script=no,downscript=no"
           -device virtio-net-device,netdev=n)
fi
[ -n "$rng" ] && devs+=(-device virtio-rng-device)
cpu_args=()
[ -n "$cpu" ] && cpu_args=(-cpu "$cpu")

status=0
qemu_as_child \
    -M "$machine" -accel tcg "${cpu_args[@]}" -m "$mem" \
    -object "memory-backend-memfd,id=ram0,size=$mem" -machine memory-backend=ram0 \
    -kernel "$kernel" -append "$append" \
    -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
    "${debug_exit[@]}" "${transport[@]}" "${devs[@]}" \
    "$@" || status=$?
exit $status
