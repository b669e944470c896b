#!/usr/bin/env bash
# tern-linux WITH ITS DEFAULTS (no --tcp-conns, --tcp-buf or --mem) under
# one attack over TAP inside a network namespace this test creates (kernel
# side 192.0.2.1, tern 192.0.2.10), while curl probes /healthz every
# 0.5 s; every probe must be answered (HTTP 200 within 3 s).
#   synflood   hping3: SYNs at 5,000/s from a spoofed 198.51.100.7 (routed
#              via the namespace, which drops the answers) for 20 s
#   slowloris  slowhttptest -H: 1,000 connections trickling headers, 25 s
#   slowread   slowhttptest -X: 300 connections reading a 256 KiB file
#              through a 16-256 byte window, 25 s
#   slowloris-tcp-pool  the slowloris attack against a TCP pool smaller
#              than the HTTP pool (--tcp-conns 40, the one limit given):
#              the TCP pool fills first and must make room through the
#              HTTP server's eviction (tern_tcp_set_evict)
# The attack must be seen to bite (the attacker's own figures, tern's
# /status counters), so a test whose attack silently failed does not pass.
# Needs root; skips otherwise.
# usage: tap_attack.sh TERN_LINUX SOURCE_ROOT synflood|slowloris|slowread|slowloris-tcp-pool
set -u
tern=$1 root=$2 mode=$3
. "$root/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (TAP device and network namespace)"
case $mode in
synflood) tools="ip curl hping3" ;;
slowloris | slowread | slowloris-tcp-pool) tools="ip curl slowhttptest mkfs.fat mcopy" ;;
*) fail "unknown attack '$mode'" ;;
esac
for t in $tools python3; do
    command -v $t >/dev/null || skip "$t not installed (scripts/install-deps.sh test)"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
ns=tern-atk-$$
tap=tatk$$
tmp=$(mktemp -d)
pid='' apid=''
cleanup() {
    [ -n "$apid" ] && kill "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || skip "cannot create a network namespace here"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up

extra=()
[ "$mode" = slowloris-tcp-pool ] && extra=(--tcp-conns 40)
if [ "$mode" = slowread ]; then
    head -c 262144 /dev/urandom >"$tmp/big.bin"
    mkfs.fat -C "$tmp/disk.img" 4096 >/dev/null && mcopy -i "$tmp/disk.img" "$tmp/big.bin" :: ||
        fail "disk image"
    extra=(--disk "$tmp/disk.img")
fi
# started directly (not through in_ns) so that $pid is tern-linux itself;
# only the device and the address are given: every limit is the default
# (but the TCP pool of slowloris-tcp-pool)
ip netns exec "$ns" "$tern" --net "tap:$tap" --ip 192.0.2.10/24 --gw 192.0.2.1 "${extra[@]}" \
    --log-level warn >"$tmp/out" 2>&1 &
pid=$!
wait_for_marker "$tmp/out" '^TERN_READY http=80' 10 "$pid"
in_ns ip addr add 192.0.2.1/24 dev "$tap"
in_ns ip link set "$tap" up
H=http://192.0.2.10
[ "$(in_ns curl -sS --max-time 5 $H/healthz)" = ok ] || fail "healthz before the attack"

status() { in_ns curl -sS --max-time 5 $H/status; }
field() { # JSON PATH: a number from /status
    python3 -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"
}

# The attacker, bounded in count and time (and by timeout in case it hangs).
case $mode in
synflood)
    in_ns ip route add 198.51.100.0/24 dev lo # spoofed source: answers go nowhere
    in_ns timeout 30 hping3 -q -S -p 80 -a 198.51.100.7 -i u200 -c 100000 192.0.2.10 \
        >"$tmp/attack" 2>&1 &
    ;;
slowloris | slowloris-tcp-pool)
    (ulimit -n 8192 && cd "$tmp" && in_ns timeout 60 slowhttptest -H -c 1000 -r 250 -i 5 -x 10 \
        -l 25 -p 3 -g -o "$tmp/stats" -u $H/ >"$tmp/attack" 2>&1) &
    ;;
slowread)
    (ulimit -n 8192 && cd "$tmp" && in_ns timeout 60 slowhttptest -X -c 300 -r 100 -w 16 -y 256 \
        -n 3 -z 32 -k 2 -l 25 -p 3 -g -o "$tmp/stats" -u $H/big.bin >"$tmp/attack" 2>&1) &
    ;;
esac
apid=$!

probes=0 answered=0 failed=""
t0=$(date +%s)
while kill -0 "$apid" 2>/dev/null; do
    t=$(( $(date +%s) - t0 ))
    code=$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 3 $H/healthz)
    probes=$((probes + 1))
    if [ "$code" = 200 ]; then answered=$((answered + 1)); else failed="$failed ${t}s:$code"; fi
    sleep 0.5
done
wait "$apid"
arc=$?
apid=
kill -0 "$pid" 2>/dev/null || fail "tern-linux died under the attack: $(tail -5 "$tmp/out")"
echo "/healthz: $answered of $probes probes answered${failed:+; failed at:$failed}"
s=$(status) || fail "/status after the attack"
echo "tcp: $(field "$s" tcp) http: $(field "$s" http)"

# The attack bit.
case $mode in
synflood)
    sent=$(grep -Eo '^[0-9]+ packets transmitted' "$tmp/attack" | cut -d' ' -f1)
    cookies=$(field "$s" tcp.syn_cookies_sent)
    echo "hping3: ${sent:-?} SYNs sent; tern: $cookies SYN cookies sent"
    [ "${sent:-0}" -ge 20000 ] || fail "hping3 sent ${sent:-no} SYNs: $(tail -3 "$tmp/attack")"
    [ "$cookies" -ge 10000 ] || fail "the flood did not fill the SYN queue (cookies $cookies)"
    ;;
slowloris | slowread | slowloris-tcp-pool)
    [ -f "$tmp/stats.csv" ] || fail "slowhttptest wrote no statistics: $(tail -5 "$tmp/attack")"
    # columns: seconds, closed, pending, connected, service available;
    # tern resets the connections it evicts, so count what was opened
    opened=$(awk -F, 'NR > 1 && $2 + $3 + $4 > m { m = $2 + $3 + $4 } END { print m + 0 }' \
        "$tmp/stats.csv")
    peak=$(awk -F, 'NR > 1 && $4 + 0 > m { m = $4 + 0 } END { print m + 0 }' "$tmp/stats.csv")
    want=$([ "$mode" = slowread ] && echo 300 || echo 1000)
    accepted=$(field "$s" http.conns_accepted)
    echo "slowhttptest: $opened connections opened, at most $peak open at once (rc $arc);" \
        "tern accepted $accepted"
    [ "$opened" -ge "$want" ] || fail "the attack opened only $opened connections (want $want)"
    [ "$accepted" -ge $((want * 9 / 10)) ] || fail "tern saw only $accepted of the attack's connections"
    if [ "$mode" = slowloris-tcp-pool ]; then
        owner=$(field "$s" tcp.evicted_by_owner)
        echo "TCP pool full: $owner connections given up by the HTTP server"
        [ "$owner" -ge 100 ] || fail "the TCP pool's owner eviction ran only $owner times"
    fi
    ;;
esac
[ "$probes" -ge 15 ] || fail "only $probes probes ran"
[ "$answered" = "$probes" ] || fail "$mode: $((probes - answered)) of $probes probes unanswered"
[ "$(in_ns curl -sS --max-time 5 $H/healthz)" = ok ] || fail "healthz after the attack"
echo "ok - $mode: every /healthz probe answered with the default limits"
