# Shared by the bare-metal benchmarks (bench/metal/bench.sh, microvm.sh,
# linux_guest.sh, bench/workload/metal.sh): start a guest's QEMU, wait for
# its ready lines on the serial log, time the first HTTP 200, stop it.
# Sourced; sets the variables named below.

# bench_sleep S: sleeps S seconds without forking sleep(1) (the wait
# loop below runs next to QEMU on a 2-CPU host).
bench_sleep() {
    [ -n "${bench_sleep_fd:-}" ] || exec {bench_sleep_fd}<> <(:)
    read -rt "$1" -u "$bench_sleep_fd" || true
}

# bench_free_port: a free TCP port on 127.0.0.1.
bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_line FILE SED_REGEX: the first capture \1 of SED_REGEX in FILE,
# carriage returns dropped (empty if none).
bench_line() { tr -d '\r' <"$1" | sed -n "s/$2/\1/p" | head -1; }

# bench_boot OUT READY URL TIMEOUT_S CMD...: boots a guest with
# boot_probe.py (in network namespace $BENCH_NS when set; its pid in
# bench_pid): CMD's output goes to OUT; once OUT has a line for each of
# READY's ';'-separated extended regular expressions (an empty READY is
# there at once), it fetches URL until the answer is 200. Only after the
# ready lines: earlier tries queue connection attempts into a guest still
# booting. It gives up when CMD exits, OUT shows a halt or panic, or after
# TIMEOUT_S. Sets bench_seen_ms (QEMU start -> ready lines),
# bench_wall_ms (QEMU start -> first 200) and bench_cpu_ms (the CPU time
# QEMU had used by then: less sensitive to the host's load than the wall
# time), all empty on failure; returns 0 on a 200, 1 otherwise. The guest
# keeps running: bench_stop ends it.
bench_boot() {
    local out=$1 ready=$2 url=$3 timeout=$4 result=$1.probe ns=()
    shift 4
    [ -n "${BENCH_NS:-}" ] && ns=(ip netns exec "$BENCH_NS")
    bench_seen_ms= bench_wall_ms= bench_cpu_ms=
    rm -f "$result"
    "${ns[@]}" python3 "$(dirname "${BASH_SOURCE[0]}")/boot_probe.py" \
        "$result" "$out" "$ready" "$url" "$timeout" "$@" </dev/null >/dev/null 2>&1 &
    bench_pid=$!
    while [ ! -s "$result" ] && kill -0 "$bench_pid" 2>/dev/null; do
        bench_sleep 0.05
    done
    local r=
    [ -s "$result" ] && read -r r <"$result"
    case $r in
        [0-9]*) read -r bench_seen_ms bench_wall_ms bench_cpu_ms <<<"$r"; return 0 ;;
        *) return 1 ;;
    esac
}

# bench_stop: ends the guest bench_boot started (if any) and reaps it.
bench_stop() {
    if [ -n "${bench_pid:-}" ]; then
        kill "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
        bench_pid=
    fi
}
