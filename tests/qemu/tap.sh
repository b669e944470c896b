#!/usr/bin/env bash
# The Linux kernel as the bare-metal guest's peer: a network namespace
# made here holds a TAP device (192.0.2.1/24); QEMU, inside it, gives the
# TAP to the guest as virtio-net, the guest takes 192.0.2.2/24 from the
# fw_cfg command line, and the checksum offloads QEMU offers on a TAP.
# The kernel pings the guest (also with 1400-byte payloads) and curl
# fetches /healthz and / from it. Needs root (skips
# with 77 otherwise). No packet leaves the namespace.
#
# usage: tap.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
. "$src/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace and TAP device)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || fail "ip (iproute2) not installed"

ns=tern-metal-tap-$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-tap-test.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
out=$tmp/serial.log
"$src/scripts/make-image.sh" "$build" "$tmp/tern.img" >/dev/null

ip netns add "$ns"
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap
nsx ip addr add 192.0.2.1/24 dev tap0
nsx ip link set tap0 up

# ip netns exec execs run-qemu.sh, so $! is the script (a TERM to it
# stops QEMU too).
ip netns exec "$ns" "$src/scripts/run-qemu.sh" "$build" --image "$tmp/tern.img" --tap tap0 --rng \
    -fw_cfg "name=opt/tern/cmdline,string=ip=192.0.2.2/24" </dev/null >"$out" 2>&1 &
pid=$!
wait_for_marker "$out" '^TERN_NET_UP .*ip=192\.0\.2\.2/24 .*via=static' 120 "$pid"
wait_for_marker "$out" '^TERN_READY http=80' 30 "$pid"
# QEMU offers CSUM and GUEST_CSUM when its peer is a TAP with a vnet
# header: the driver takes both, so what follows runs with partial
# checksums both ways (the kernel's TCP sends CHECKSUM_PARTIAL frames).
grep -aq 'virtio-net .*offloads tx-csum rx-csum' "$out" ||
    fail "virtio-net on a TAP did not take the checksum offloads QEMU offers"
nsx ping -c 3 -W 5 192.0.2.2 >"$tmp/ping" || { cat "$tmp/ping" >&2; fail "no ping reply from the guest"; }
nsx ping -c 2 -W 5 -s 1400 192.0.2.2 >/dev/null || fail "no reply to 1400-byte pings"
body=$(nsx curl -sS -m 20 http://192.0.2.2/healthz)
[ "$body" = ok ] || fail "/healthz over TAP answered '$body'"
nsx curl -sS -m 20 http://192.0.2.2/ | grep -q '<h1>Tern</h1>' || fail "/ over TAP is not the index page"
# what the offloads did: checksums left to QEMU on the way out, the
# kernel's partial checksums vouched for on the way in, nothing refused
nsx curl -sS -m 20 http://192.0.2.2/status | /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
a, n = d["addresses"][0], d["net"]
assert a["ip"] == "192.0.2.2" and a["offloads"] == "tx-csum rx-csum", a
assert n["tx_csum_offloaded"] > 0 and n["rx_csum_vouched"] > 0 and n["rx_drop_bad_meta"] == 0, n
print("status net:", n)' || fail "/status: the checksum offloads are not listed or were not used"
grep -a '^TERN_' "$out" | tr -d '\r'
grep -a 'virtio-net ' "$out" | tr -d '\r'
echo "PASS: tap (checksum offloads; ping, 1400-byte ping, /healthz, / from the Linux kernel)"
