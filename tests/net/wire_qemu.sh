#!/usr/bin/env bash
# wire: interop with QEMU's -netdev dgram (unix sockets, swapped paths):
# a QEMU machine with OVMF and a virtio-net NIC on tern-linux's wire; the
# firmware's network boot broadcasts DHCP DISCOVERs, which must reach
# tern (seen in tern's --pcap by tshark). No root needed.
# usage: wire_qemu.sh TERN_LINUX
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
tern=$1
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86 not installed"
command -v tshark >/dev/null || skip "tshark not installed"
ovmf=/usr/share/OVMF/OVMF_CODE.fd
[ -f "$ovmf" ] || skip "no $ovmf (ovmf not installed)"

tmp=$(mktemp -d)
pid= qpid=
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

"$tern" --net "wire:$tmp/tern.sock,$tmp/qemu.sock" --ip 192.0.2.10/24 --pcap "$tmp/w.pcap" \
    >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_NET_UP' 10 "$pid"
qemu-system-x86_64 -machine q35 -m 256 -bios "$ovmf" \
    -netdev "dgram,id=n0,local.type=unix,local.path=$tmp/qemu.sock,remote.type=unix,remote.path=$tmp/tern.sock" \
    -device virtio-net-pci,netdev=n0,romfile= -display none -serial null -monitor none \
    >"$tmp/qemu.out" 2>&1 &
qpid=$!
deadline=$(( $(date +%s) + 90 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$qpid" 2>/dev/null || { cat "$tmp/qemu.out"; fail "qemu exited early"; }
    if [ "$(tshark -r "$tmp/w.pcap" -Y 'dhcp.option.dhcp == 1 && eth.src == 52:54:00:12:34:56' 2>/dev/null | wc -l)" -ge 1 ]; then
        echo "ok: a DHCP DISCOVER from QEMU's firmware arrived over wire:"
        kill "$qpid"; wait "$qpid" 2>/dev/null || true; qpid=
        kill -TERM "$pid"
        wait "$pid" || fail "tern-linux exited with $?"
        pid=
        echo "PASS"
        exit 0
    fi
    sleep 0.5
done
tshark -r "$tmp/w.pcap" 2>/dev/null | head
fail "no DHCP DISCOVER from QEMU within 90 s"
