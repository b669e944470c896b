# Shared by the bare-metal benchmarks (bench/metal/*.sh,
# bench/workload/metal.sh): start a guest's QEMU, wait for its ready line
# on the serial log, then poll for the first HTTP 200, and stop it.
# Sourced; uses and sets the caller's variables named below.

# bench_now_ms: host wall time in ms (bash's clock: no fork, as the
# poll loop below runs next to QEMU on a 2-CPU host).
bench_now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $(( t / 1000 )); }

# bench_sleep S: sleeps S seconds without forking sleep(1).
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

# bench_boot OUT READY URL TIMEOUT_S CMD...: runs CMD in the background
# (stdin /dev/null, stdout and stderr to OUT; its pid in bench_pid), waits
# until OUT has a line matching each of READY's ';'-separated extended
# regular expressions (an empty READY is there at once), then fetches URL
# (curl, in network namespace $BENCH_NS when set) until it answers 200. Curl only after the ready
# line: earlier polls queue connection attempts into a guest still
# booting and fork a curl per poll next to QEMU on a 2-CPU host.
# Gives up when CMD exits, OUT shows a halt or panic (BENCH_FAIL_ERE), or
# after TIMEOUT_S. Sets bench_seen_ms (QEMU start -> ready line) and
# bench_wall_ms (QEMU start -> first 200), both empty on failure; returns
# 0 on a 200, 1 otherwise. The guest keeps running: bench_stop ends it.
# Polls every $BENCH_POLL s (default 0.01).
bench_boot() {
    local out=$1 ready=$2 url=$3 timeout=$4 t0 deadline curl=(curl)
    shift 4
    local fail=${BENCH_FAIL_ERE:-halting with code|^TERN_PANIC|^LINUX_MARK fail|Kernel panic}
    [ -n "${BENCH_NS:-}" ] && curl=(ip netns exec "$BENCH_NS" curl)
    bench_seen_ms= bench_wall_ms=
    t0=$(bench_now_ms)
    deadline=$((t0 + timeout * 1000))
    "$@" </dev/null >"$out" 2>&1 &
    bench_pid=$!
    while [ "$(bench_now_ms)" -lt "$deadline" ]; do
        kill -0 "$bench_pid" 2>/dev/null || return 1
        grep -aEq "$fail" "$out" && return 1
        if [ -z "$bench_seen_ms" ] && bench_has_all "$out" "$ready"; then
            bench_seen_ms=$(( $(bench_now_ms) - t0 ))
        fi
        if [ -n "$bench_seen_ms" ] &&
           [ "$("${curl[@]}" -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null)" = 200 ]; then
            bench_wall_ms=$(( $(bench_now_ms) - t0 ))
            return 0
        fi
        bench_sleep "${BENCH_POLL:-0.01}"
    done
    return 1
}

# bench_has_all FILE ERES: FILE has a line for each ';'-separated ERE
# (a serial log's lines end in CR LF: anchor at the start only).
bench_has_all() {
    local re list
    IFS=';' read -ra list <<<"$2"
    for re in "${list[@]}"; do
        grep -aEq "$re" "$1" || return 1
    done
}

# bench_stop: ends the guest bench_boot started (if any) and reaps it.
bench_stop() {
    if [ -n "${bench_pid:-}" ]; then
        kill "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
        bench_pid=
    fi
}
