#!/usr/bin/env bash
# Workloads on tern-linux over TAP (docs/performance.md, "Workloads"):
#   hello  the hello app's PAL routes (GET /hello, the app's /healthz)
#          against the OS's built-in /healthz of `tern-linux --no-app`:
#          wrk keep-alive requests/s and p99;
#   echo   the echo app (PAL sockets, a thread per client) against the
#          core's own echo service (`--no-app --services echo`): a bulk
#          stream echoed back and checked, and small round trips
#          (echo_meter, one connection for latency, several for rate);
#   kv     the kv app from a disk image (--disk, as on bare metal): GET and
#          PUT requests/s and p99, keys spread (wrk + lua); no peer, the
#          hello figures of the same run are the reference.
# Each tern-linux is pinned to CPU 0, the client to CPU 1. The app and its
# peer run side by side (one TAP each) and are measured alternately, one
# line per run, with the ratio app/peer of that run. tern_cpu: the tern
# process's CPU time (user + system, /proc/PID/stat) per request or per
# round trip, steadier than the rate on a shared machine. Addresses are
# the documentation ranges, inside a namespace this script creates (the
# app on 192.0.2.10 behind tap wa0, its peer on 198.51.100.10 behind wp0).
# usage: bench.sh BUILD_DIR [SECONDS]   (default 5 s per run)
# env: RUNS=N runs per case (default 5); CASES=REGEX runs only the matching
# cases (hello, echo, kv); MIB=N bytes of the bulk echo (default 64 MiB);
# TERN_ARGS="..." adds tern-linux options to every instance (e.g.
# "--tcp-buf 64": fixed 64 KiB buffers; the core's echo service never asks
# for more than the send buffer holds, so buffers that start at 4 KiB and
# grow on demand stay at 4 KiB for it, not for the app).
# Needs root, wrk, curl, ip, taskset.
set -u
build=$(cd "$1" && pwd)
secs=${2:-5}
runs=${RUNS:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (TAP, namespaces)"
for t in wrk curl ip taskset; do command -v $t >/dev/null || skip "$t not installed"; done
tern=$build/backends/linux/tern-linux
meter=$build/bench/workload/echo_meter
for f in "$tern" "$meter" "$build/apps/echo.elf" "$build/apps/kv.elf" "$build/tools/tern-mkimage"; do
    [ -x "$f" ] || [ -f "$f" ] || fail "$f not built (ninja -C $build)"
done
tmp=$(mktemp -d)
ns=tern-wl-$$
apid='' ppid_=''
stop_terns() {
    local p
    for p in $apid $ppid_; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    apid='' ppid_=''
}
cleanup() { stop_terns; ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip netns add "$ns" || skip "cannot create a namespace"
ip -n "$ns" link set lo up

# start_tern NAME TAP NET ARGS...: tern-linux at NET.10/24 behind TAP (the
# kernel side NET.1), on CPU 0; waits for TERN_READY; sets $started.
start_tern() {
    local name=$1 tap=$2 net=$3
    shift 3
    ip netns exec "$ns" taskset -c 0 "$tern" --net "tap:$tap" --ip "$net.10/24" --gw "$net.1" \
        --log-level warn ${TERN_ARGS:-} "$@" >"$tmp/$name.out" 2>&1 &
    started=$!
    wait_for_marker "$tmp/$name.out" '^TERN_NET_UP' 10 "$started"
    ip -n "$ns" addr add "$net.1/24" dev "$tap"
    ip -n "$ns" link set "$tap" up
    wait_for_marker "$tmp/$name.out" '^TERN_READY ' 15 "$started"
}
A=192.0.2 P=198.51.100
in_ns() { ip netns exec "$ns" taskset -c 1 "$@"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# cpu_us PID TICKS0 COUNT: CPU microseconds of PID since TICKS0 per unit.
cpu_us() {
    awk -v t=$(($(cpu_ticks "$1") - $2)) -v n="${3:-0}" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "?" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }

# wrk_run PID URL ARGS... -> "rps p99_ms cpu_us_per_request"
wrk_run() {
    local spid=$1 c0 rps p99 reqs
    shift
    c0=$(cpu_ticks "$spid")
    in_ns wrk -t1 -c16 -d"${secs}s" --latency "$@" >"$tmp/wrk" 2>&1
    grep -q 'Socket errors\|Non-2xx' "$tmp/wrk" &&
        echo "WARN: errors: $(grep -E 'Socket errors|Non-2xx' "$tmp/wrk" | tr '\n' ' ')" >&2
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk")
    reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk")
    p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) sub("ms","",v); else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' "$tmp/wrk")
    echo "${rps:-0} ${p99:-?} $(cpu_us "$spid" "$c0" "${reqs:-0}")"
}
# rr_run PID HOST CONNS SIZE -> "per_sec p50_us p99_us cpu_us_per_round_trip"
rr_run() {
    local spid=$1 c0 line
    c0=$(cpu_ticks "$spid")
    line=$(in_ns "$meter" rr "$2" 7 "$3" "$secs" "$4") || fail "echo_meter rr against $2: $line"
    local n
    n=$(sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' <<<"$line")
    echo "$(sed -n 's/.*per_sec=\([0-9]*\) p50_us=\([0-9]*\) p99_us=\([0-9]*\).*/\1 \2 \3/p' <<<"$line") $(cpu_us "$spid" "$c0" "$n")"
}
# bulk_run PID HOST -> "mbit_s cpu_us_per_MiB"
bulk_run() {
    local spid=$1 c0 line bytes=$((${MIB:-64} << 20))
    c0=$(cpu_ticks "$spid")
    line=$(in_ns "$meter" bulk "$2" 7 "$bytes") || fail "echo_meter bulk against $2: $line"
    echo "$(cut -d' ' -f3 <<<"$line") $(cpu_us "$spid" "$c0" "${MIB:-64}")"
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $runs runs of ${secs}s per case"
row() { printf '%-30s %12s %10s %12s %10s %6s %9s %9s\n' "$@"; }

case_hello() {
    start_tern hello wa0 $A; apid=$started
    start_tern noapp wp0 $P --no-app; ppid_=$started
    grep -q '^TERN_READY .*app=hello' "$tmp/hello.out" || fail "the hello app is not running"
    [ "$(in_ns curl -s --max-time 2 http://$A.10/hello)" = "Hello from Tern" ] || fail "GET /hello"
    [ "$(in_ns curl -s --max-time 2 http://$P.10/healthz)" = ok ] || fail "built-in /healthz"
    echo "== hello: PAL route vs the built-in /healthz of --no-app (wrk -t1 -c16, keep-alive)"
    row case app_rps app_p99 peer_rps peer_p99 ratio app_cpu peer_cpu
    local i
    for ((i = 1; i <= runs; i++)); do
        read -r prps pp99 pcpu <<<"$(wrk_run "$ppid_" "http://$P.10/healthz")"
        read -r hrps hp99 hcpu <<<"$(wrk_run "$apid" "http://$A.10/hello")"
        read -r zrps zp99 zcpu <<<"$(wrk_run "$apid" "http://$A.10/healthz")"
        row "run $i GET /hello (PAL)" "$hrps" "${hp99}ms" "$prps" "${pp99}ms" "$(ratio "$hrps" "$prps")" \
            "${hcpu}us" "${pcpu}us"
        row "run $i GET /healthz (PAL)" "$zrps" "${zp99}ms" "$prps" "${pp99}ms" "$(ratio "$zrps" "$prps")" \
            "${zcpu}us" "${pcpu}us"
    done
    kill -0 "$apid" && kill -0 "$ppid_" || fail "a tern-linux died during the run"
    stop_terns
}

case_echo() {
    mkdir -p "$tmp/echo"
    cp "$root/fixtures/manifests/echo.json" "$tmp/echo/manifest.json"
    cp "$build/apps/echo.elf" "$tmp/echo/"
    start_tern echo wa0 $A --manifest "$tmp/echo/manifest.json"; apid=$started
    start_tern svc wp0 $P --no-app --services echo; ppid_=$started
    grep -q '^TERN_READY .*app=echo' "$tmp/echo.out" || fail "the echo app is not running"
    echo "== echo: PAL sockets (echo app) vs the core's echo service (--services echo), port 7"
    row case app peer_rps '' '' ratio app_cpu peer_cpu
    local i
    for ((i = 1; i <= runs; i++)); do
        read -r pm pc <<<"$(bulk_run "$ppid_" $P.10)"
        read -r am ac <<<"$(bulk_run "$apid" $A.10)"
        printf '%-30s %9s Mbit/s (peer %9s Mbit/s) %6s %7sus %7sus  (CPU per MiB)\n' \
            "run $i bulk ${MIB:-64} MiB" "$am" "$pm" "$(ratio "$am" "$pm")" "$ac" "$pc"
        read -r pr p50 p99 pc <<<"$(rr_run "$ppid_" $P.10 1 64)"
        read -r ar a50 a99 ac <<<"$(rr_run "$apid" $A.10 1 64)"
        printf '%-30s %9s rt/s p50 %5sus p99 %5sus (peer %9s rt/s p50 %5sus p99 %5sus) %6s %7sus %7sus\n' \
            "run $i 64 B round trips, 1 conn" "$ar" "$a50" "$a99" "$pr" "$p50" "$p99" \
            "$(ratio "$ar" "$pr")" "$ac" "$pc"
        read -r pr p50 p99 pc <<<"$(rr_run "$ppid_" $P.10 8 64)"
        read -r ar a50 a99 ac <<<"$(rr_run "$apid" $A.10 8 64)"
        printf '%-30s %9s rt/s p50 %5sus p99 %5sus (peer %9s rt/s p50 %5sus p99 %5sus) %6s %7sus %7sus\n' \
            "run $i 64 B round trips, 8 conns" "$ar" "$a50" "$a99" "$pr" "$p50" "$p99" \
            "$(ratio "$ar" "$pr")" "$ac" "$pc"
    done
    kill -0 "$apid" && kill -0 "$ppid_" || fail "a tern-linux died during the run"
    stop_terns
}

case_kv() {
    mkdir -p "$tmp/esp/tern" "$tmp/data"
    cp "$root/fixtures/manifests/kv.json" "$tmp/esp/tern/manifest.json"
    cp "$build/apps/kv.elf" "$tmp/esp/tern/kv.elf"
    "$build/tools/tern-mkimage" --output "$tmp/disk.img" --size 48 --esp "$tmp/esp" \
        --data "$tmp/data" --quiet || fail "tern-mkimage"
    start_tern kv wa0 $A --disk "$tmp/disk.img"; apid=$started
    grep -q '^TERN_READY .*app=kv' "$tmp/kv.out" || fail "the kv app is not running"
    # PUT: keys k0..k(KEYS-1) at random, a 100-byte value; GET: the same keys.
    local keys=${KEYS:-256}
    cat >"$tmp/put.lua" <<LUA
wrk.method = "PUT"
wrk.body = string.rep("v", 100)
request = function() return wrk.format(nil, "/kv/k" .. math.random(0, $keys - 1)) end
LUA
    cat >"$tmp/get.lua" <<LUA
request = function() return wrk.format(nil, "/kv/k" .. math.random(0, $keys - 1)) end
LUA
    local k
    for ((k = 0; k < keys; k++)); do printf 'url = "http://%s.10/kv/k%d"\n' $A $k; done >"$tmp/seed"
    in_ns curl -s --max-time 60 -X PUT --data-binary seed -K "$tmp/seed" >/dev/null ||
        fail "seeding $keys keys"
    [ "$(in_ns curl -s --max-time 2 http://$A.10/kv/k$((keys - 1)))" = seed ] || fail "GET a seeded key"
    echo "== kv: $keys keys on the data volume (tern-linux --disk), wrk -t1 -c16"
    row case rps p99 '' '' '' cpu ''
    local i
    for ((i = 1; i <= runs; i++)); do
        read -r grps gp99 gcpu <<<"$(wrk_run "$apid" -s "$tmp/get.lua" "http://$A.10/")"
        read -r prps pp99 pcpu <<<"$(wrk_run "$apid" -s "$tmp/put.lua" "http://$A.10/")"
        row "run $i GET /kv/KEY" "$grps" "${gp99}ms" '' '' '' "${gcpu}us" ''
        row "run $i PUT /kv/KEY (100 B)" "$prps" "${pp99}ms" '' '' '' "${pcpu}us" ''
    done
    kill -0 "$apid" || fail "tern-linux died during the run"
    stop_terns
}

for c in hello echo kv; do
    [[ $c =~ ${CASES:-.} ]] && "case_$c"
done
exit 0
