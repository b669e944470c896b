#!/usr/bin/env bash
# wrk against tern-linux over TAP in a network namespace and against nginx
# (one worker) over a veth pair in another namespace, same machine, same
# run; each server pinned to CPU 0, wrk to CPU 1. Addresses are the
# documentation ranges, inside namespaces this script creates (no packet
# leaves them). Prints one line per case: requests/s and p99 latency of
# both, and the ratio. Needs root, nginx, wrk, mkfs.fat, mcopy.
# tern_cpu / nginx_cpu: the server process's CPU time (user + system,
# from /proc/PID/stat) per request served in that run; steadier than
# requests/s on a shared machine. The nginx side is configured like tern:
# access log off (tern keeps its access lines in its memory ring at
# --log-level warn), keep-alive without a request limit and 60 s idle,
# TLS 1.2 with tern's suites in tern's order (server preference: both
# pick ECDHE-ECDSA-AES128-GCM-SHA256) and tern's groups (X25519 first),
# session tickets on both.
# usage: bench.sh TERN_LINUX [SECONDS]   (default 5 s per run)
# env: RUNS=N repeats every case N times (tern and nginx alternate, one
# line per run); CASES=REGEX runs only the cases whose name matches.
set -u
tern=$1 secs=${2:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (TAP, namespaces)"
for t in nginx wrk ip taskset mkfs.fat mcopy; do
    command -v $t >/dev/null || skip "$t not installed"
done
tls="$root/fixtures/tls"
tmp=$(mktemp -d)
ns=tern-bench-$$ nsn=tern-nginx-$$
tpid= npid=
cleanup() {
    [ -n "$tpid" ] && kill "$tpid" 2>/dev/null
    [ -n "$npid" ] && kill "$npid" 2>/dev/null
    wait 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    ip netns del "$nsn" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" && ip netns add "$nsn" || skip "cannot create namespaces"
ip netns exec "$ns" ip link set lo up
ip netns exec "$nsn" ip link set lo up

# content: a 64 KiB file for both servers
mkdir -p "$tmp/www"
head -c 65536 /dev/urandom >"$tmp/www/file64k.bin"
mkfs.fat -C "$tmp/disk.img" 4096 >/dev/null
mcopy -i "$tmp/disk.img" "$tmp/www/file64k.bin" ::

# tern over TAP (kernel side 192.0.2.1, tern 192.0.2.10)
ip netns exec "$ns" taskset -c 0 "$tern" --net tap:tbench0 --ip 192.0.2.10/24 --gw 192.0.2.1 \
    --disk "$tmp/disk.img" --tls-cert "$tls/test-ec-cert.pem" --tls-key "$tls/test-ec-key.pem" \
    --log-level warn >"$tmp/tern.out" 2>&1 &
tpid=$!
wait_for_marker "$tmp/tern.out" '^TERN_READY ' 10 "$tpid"
ip netns exec "$ns" ip addr add 192.0.2.1/24 dev tbench0
ip netns exec "$ns" ip link set tbench0 up

# nginx over veth (wrk side 198.51.100.1 in $ns, nginx 198.51.100.2 in $nsn)
ip link add vb0 netns "$ns" type veth peer name vb1 netns "$nsn"
ip netns exec "$ns" ip addr add 198.51.100.1/24 dev vb0
ip netns exec "$ns" ip link set vb0 up
ip netns exec "$nsn" ip addr add 198.51.100.2/24 dev vb1
ip netns exec "$nsn" ip link set vb1 up
cat >"$tmp/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err warn;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    keepalive_timeout 60s;
    keepalive_requests 1000000000;
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384;
    ssl_prefer_server_ciphers on;
    client_body_temp_path $tmp;
    proxy_temp_path $tmp; fastcgi_temp_path $tmp; uwsgi_temp_path $tmp; scgi_temp_path $tmp;
    server {
        listen 198.51.100.2:80;
        listen 198.51.100.2:443 ssl;
        ssl_certificate $tls/test-ec-cert.pem;
        ssl_certificate_key $tls/test-ec-key.pem;
        ssl_protocols TLSv1.2;
        ssl_session_tickets on;
        root $tmp/www;
        location = /healthz { default_type text/plain; return 200 "ok"; }
    }
}
NGX
ip netns exec "$nsn" taskset -c 0 nginx -c "$tmp/nginx.conf" >"$tmp/nginx.out" 2>&1 &
npid=$!
for i in $(seq 100); do
    ip netns exec "$ns" curl -s --max-time 1 http://198.51.100.2/healthz 2>/dev/null | grep -q ok && break
    kill -0 "$npid" 2>/dev/null || { cat "$tmp/nginx.out" "$tmp/nginx.err"; fail "nginx died"; }
done
ip netns exec "$ns" curl -s --max-time 2 http://192.0.2.10/healthz | grep -q ok || fail "tern not reachable"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
run() { # server-pid url extra-args -> "rps p99_ms cpu_us_per_request"
    local spid=$1 c0 c1
    shift
    c0=$(cpu_ticks "$spid")
    ip netns exec "$ns" taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" >"$tmp/wrk" 2>&1
    c1=$(cpu_ticks "$spid")
    grep -q 'Socket errors\|Non-2xx' "$tmp/wrk" && echo "WARN: errors: $(grep -E 'Socket errors|Non-2xx' "$tmp/wrk")" >&2
    local rps p99 reqs
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk")
    reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk")
    p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) sub("ms","",v); else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' "$tmp/wrk")
    echo "$rps ${p99:-?} $(awk -v t=$((c1 - c0)) -v n="${reqs:-0}" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "?" }')"
}
nworker=$(pgrep -P "$npid" | head -1)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %9s %12s %9s %7s %9s %9s\n' case tern_rps tern_p99 nginx_rps nginx_p99 ratio \
    tern_cpu nginx_cpu
bench() { # name path extra-args...
    local name=$1 path=$2 scheme=${scheme:-http} i
    shift 2
    [[ $name =~ ${CASES:-.} ]] || return 0
    for ((i = 0; i < ${RUNS:-1}; i++)); do
        read -r trps tp99 tcpu <<<"$(run "$tpid" "$@" "$scheme://192.0.2.10$path")"
        read -r nrps np99 ncpu <<<"$(run "$nworker" "$@" "$scheme://198.51.100.2$path")"
        printf '%-34s %12s %8sms %12s %8sms %7s %7sus %7sus\n' "$name" "$trps" "$tp99" "$nrps" \
            "$np99" \
            "$(awk -v a="$trps" -v b="$nrps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')" \
            "$tcpu" "$ncpu"
    done
}
conns=16 bench "keep-alive GET /healthz (16 conns)" /healthz
conns=16 bench "conn per request /healthz" /healthz -H "Connection: close"
conns=16 bench "keep-alive 64 KiB file" /file64k.bin
conns=16 scheme=https bench "https keep-alive /healthz" /healthz
kill -0 "$tpid" || fail "tern-linux died during the run"
