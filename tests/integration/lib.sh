# Helpers for integration tests (sourced). Tests wait on marker lines,
# never on sleeps of a fixed length.

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

# wait_for_marker FILE REGEX SECONDS [PID]: polls FILE until a line matches
# REGEX; fails after SECONDS, or early if PID dies first.
wait_for_marker() {
    local file=$1 re=$2 secs=$3 pid=${4:-}
    local deadline=$(( $(date +%s%N) + secs * 1000000000 ))
    while [ "$(date +%s%N)" -lt "$deadline" ]; do
        grep -Eq "$re" "$file" 2>/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            grep -Eq "$re" "$file" 2>/dev/null && return 0
            echo "--- output of the process that died ---" >&2
            cat "$file" >&2
            fail "process $pid ended before /$re/ appeared"
        fi
        sleep 0.02
    done
    echo "--- output so far ---" >&2
    cat "$file" >&2
    fail "no line matching /$re/ within ${secs}s"
}

# marker_field FILE MARKER KEY: the value of KEY=... on MARKER's first line.
marker_field() {
    grep -m1 "^$2 " "$1" | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# qmp_send SOCKET COMMAND: QMP's greeting, qmp_capabilities, then COMMAND
# (no arguments) to the QEMU listening on the unix SOCKET; waits for each
# return.
qmp_send() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", sys.argv[2]):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush()
    while "return" not in json.loads(f.readline()):
        pass
PY
}
