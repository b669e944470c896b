#!/usr/bin/env bash
# One workload manifest's network section and resources.tcp_connections,
# applied the same way by both backends (core's bring-up,
# core/boot/network.c). The manifest (manifest() below) runs the hello app
# with hostname tern-web1, tcp_connections 200, and either a static
# address 192.0.2.2/24 (gateway 192.0.2.1) or DHCP.
#
# usage: net_manifest.sh CASE BUILD_DIR SOURCE_DIR
#   linux-static  tern-linux --manifest, on a TAP in a network namespace
#                 this test creates (kernel side 192.0.2.1/24)
#   metal-static  the same manifest on the ESP (/tern) of a Tern image
#                 booted under QEMU + OVMF on such a TAP
#   linux-dhcp    as linux-static with DHCP from dnsmasq in the namespace
#   metal-dhcp    as metal-static with DHCP from dnsmasq
#   linux-pool    (loopback, slirp: no root) the pool: the manifest's 200,
#                 --tcp-conns 100 over it, the default (1024) without it
# The TAP cases check: TERN_NET_UP via=static at 192.0.2.2 (or via=dhcp at
# a leased address), ping from the kernel, GET /hello through the app,
# /status's hostname "tern-web1" and tcp.pcbs 200, and the line
# "net: TCP pool 200 control blocks (resources.tcp_connections)"; the
# DHCP cases also that dnsmasq's lease file and log name the client
# tern-web1 (option 12). Root for the TAP cases (skips otherwise).
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
. "$src/tests/integration/lib.sh"

tern=$build/backends/linux/tern-linux
hello=$build/apps/hello.elf
backend=${case_%-*} mode=${case_#*-}
command -v curl >/dev/null || skip "curl not installed (scripts/install-deps.sh test)"
[ -f "$hello" ] || fail "$hello not built"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-net-manifest.XXXXXX")
ns=tern-nm-$$
pid= dpid=
cleanup() {
    { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; } || true
    { [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null; } || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
expect() { [ "$2" = "$3" ] || { cat "$out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }

# manifest MODE [POOL]: the workload, network MODE static or dhcp, with
# resources.tcp_connections POOL (none: the field left out).
manifest() {
    local net='{ "mode": "dhcp", "hostname": "tern-web1" }' res='"memory_mib": 1, "threads": 1'
    [ "$1" = static ] && net='{ "mode": "static", "address": "192.0.2.2/24", "gateway": "192.0.2.1", "hostname": "tern-web1" }'
    [ "${2-200}" != none ] && res="$res, \"tcp_connections\": ${2-200}"
    cat <<JSON
{
  "tern_manifest": 1,
  "name": "hello",
  "version": "1.0.0",
  "app": { "path": "hello.elf", "env": { "GREETING": "Hello from Tern" } },
  "endpoints": [ { "name": "web", "proto": "http", "port": 80 } ],
  "network": $net,
  "resources": { $res },
  "health": { "http": "/healthz", "port": 80 }
}
JSON
}
mkdir -p "$tmp/wl"
cp "$hello" "$tmp/wl/hello.elf"
out=$tmp/out

# status_check URL RUNNER POOL: /status's hostname and pool size, fetched
# with curl through RUNNER (nsx: from the namespace).
status_check() {
    $2 curl -sS -m 20 "$1/status" >"$tmp/status" || fail "GET /status"
    /usr/bin/python3 - "$tmp/status" "$3" <<'PY' || { cat "$tmp/status" >&2; fail "/status: hostname or pool"; }
import json, sys
d = json.load(open(sys.argv[1]))
assert d["hostname"] == "tern-web1", d.get("hostname")
assert d["tcp"]["pcbs"] == int(sys.argv[2]), d["tcp"]
PY
    echo "ok - /status: hostname tern-web1, tcp.pcbs $3"
}

if [ "$case_" = linux-pool ]; then
    # start NAME ARGS...: tern-linux on slirp with a forward to port 80
    start() {
        out=$tmp/$1.out
        shift
        hp=$(free_port)
        "$tern" --hostfwd "tcp:127.0.0.1:$hp-:80" "$@" >"$out" 2>&1 &
        pid=$!
        wait_for_marker "$out" '^TERN_READY http=80 .*app=hello' 15 "$pid"
    }
    stop() { kill -TERM "$pid"; wait "$pid" || fail "tern-linux exited with $?"; pid=; }
    pcbs() {
        curl -sS -m 10 "http://127.0.0.1:$hp/status" |
            /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["tcp"]["pcbs"])'
    }
    manifest dhcp >"$tmp/wl/manifest.json"
    start manifest --allow-unsigned --manifest "$tmp/wl/manifest.json"
    expect "the manifest's pool in /status" "$(pcbs)" 200
    grep -q 'info manifest: resources .*tcp_connections=200$' "$out" || fail "the manifest line"
    grep -q 'info net: TCP pool 200 control blocks (resources.tcp_connections)$' "$out" ||
        fail "no line saying the pool came from the manifest"
    stop
    start override --allow-unsigned --manifest "$tmp/wl/manifest.json" --tcp-conns 100
    expect "--tcp-conns over the manifest" "$(pcbs)" 100
    grep -q 'info net: TCP pool 100 control blocks (--tcp-conns)$' "$out" ||
        fail "no line saying the pool came from --tcp-conns"
    stop
    manifest dhcp none >"$tmp/wl/manifest.json"
    start absent --allow-unsigned --manifest "$tmp/wl/manifest.json"
    expect "no tcp_connections: the default pool" "$(pcbs)" 1024
    grep -q 'tcp_connections=default$' "$out" || fail "the manifest line does not say default"
    grep -q 'info net: TCP pool 1024 control blocks (the default for this heap)$' "$out" ||
        fail "no line saying the pool is the default"
    stop
    echo "PASS: $case_"
    exit 0
fi

[ "$(id -u)" = 0 ] || skip "needs root (TAP device and network namespace)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip ping; do command -v $t >/dev/null || skip "$t not installed"; done
[ "$mode" = dhcp ] && { command -v dnsmasq >/dev/null || skip "dnsmasq not installed"; }
if [ "$backend" = metal ]; then
    command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
    [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"
fi

manifest "$mode" >"$tmp/wl/manifest.json"
ip netns add "$ns" || skip "cannot create a network namespace here"
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap
nsx ip addr add 192.0.2.1/24 dev tap0
nsx ip link set tap0 up
if [ "$mode" = dhcp ]; then
    nsx dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
        --interface=tap0 --bind-interfaces --dhcp-authoritative \
        --dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,2m \
        --dhcp-option=option:router,192.0.2.1 \
        --dhcp-leasefile="$tmp/leases" --pid-file="$tmp/dnsmasq.pid" \
        --log-dhcp --log-facility="$tmp/dnsmasq.log" &
    dpid=$!
fi

# Both backends get the same manifest file; their own options name only
# the device.
if [ "$backend" = linux ]; then
    ip netns exec "$ns" "$tern" --net tap:tap0 --allow-unsigned --manifest "$tmp/wl/manifest.json" >"$out" 2>&1 &
    pid=$!
    boot_s=15
else
    DEV=1 "$src/scripts/make-image.sh" "$build" "$tmp/tern.img" "" 64 "$tmp/wl" >/dev/null
    ip netns exec "$ns" "$src/scripts/run-qemu.sh" "$build" --image "$tmp/tern.img" --tap tap0 \
        --rng </dev/null >"$out" 2>&1 &
    pid=$!
    boot_s=120
fi
if [ "$mode" = static ]; then
    wait_for_marker "$out" '^TERN_NET_UP if=net0 ip=192\.0\.2\.2/24 gw=192\.0\.2\.1 .*via=static' "$boot_s" "$pid"
    grep -aq 'dhcp' "$out" && fail "DHCP ran although the manifest is static"
    ip=192.0.2.2
else
    # the first DISCOVER may beat dnsmasq's start: retransmissions at 4, 8 s
    wait_for_marker "$out" '^TERN_NET_UP if=net0 ip=192\.0\.2\.(5[0-9]|60)/24 gw=192\.0\.2\.1 .*via=dhcp' $((boot_s + 30)) "$pid"
    ip=$(tr -d '\r' <"$out" | marker_field /dev/stdin TERN_NET_UP ip)
    ip=${ip%/24}
fi
wait_for_marker "$out" '^TERN_READY http=80 .*app=hello' 60 "$pid"
echo "ok - $backend: net0 at $ip ($mode), TERN_READY"
grep -aq 'info net: TCP pool 200 control blocks (resources.tcp_connections)' "$out" ||
    { cat "$out" >&2; fail "no line saying the pool came from the manifest"; }
grep -aq 'info net: hostname tern-web1' "$out" || fail "no hostname line"

nsx ping -c 2 -i 0.2 -W 5 "$ip" >/dev/null || fail "no ping answer at $ip"
echo "ok - ping at $ip"
expect "GET /hello through the app" "$(nsx curl -sS -m 20 "http://$ip/hello")" "Hello from Tern"
status_check "http://$ip" nsx 200

if [ "$mode" = dhcp ]; then
    # dnsmasq records the name the client sent in option 12
    lease=$(grep " $ip " "$tmp/leases" || true)
    [ "$(echo "$lease" | cut -d' ' -f4)" = tern-web1 ] ||
        { cat "$tmp/leases" "$tmp/dnsmasq.log" >&2; fail "dnsmasq's lease for $ip has no hostname tern-web1: [$lease]"; }
    grep -q "DHCPACK(tap0) $ip [0-9a-f:]* tern-web1" "$tmp/dnsmasq.log" ||
        { cat "$tmp/dnsmasq.log" >&2; fail "dnsmasq's log shows no ACK to tern-web1"; }
    echo "ok - dnsmasq: lease $lease"
fi
grep -a '^TERN_' "$out" | tr -d '\r'
echo "PASS: $case_"
