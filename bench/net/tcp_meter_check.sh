#!/usr/bin/env bash
# Checks bench/net/tcp_meter on loopback (no root needed): its send and
# recv agree over 8 MiB + an odd tail; a stream written independently
# from tern-linux's --tcp-send formula, byte[i] = (i*31 + (i>>8)) & 0xff,
# reads as pattern=ok; a wrong byte is reported at its exact offset (on
# both sides of a 64 KiB table wrap); bad usage exits 2.
# usage: bench/net/tcp_meter_check.sh BUILD/bench/net/tcp_meter
set -euo pipefail
meter=$1
tmp=$(mktemp -d)
mpid=
cleanup() {
    [ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A listener on a free port: retry on a port taken by someone else.
listen() { # OUTFILE
    for _ in $(seq 20); do
        port=$((20000 + RANDOM % 40000))
        "$meter" recv "$port" >"$1" 2>"$1.err" &
        mpid=$!
        for _ in $(seq 250); do
            grep -q listening "$1" 2>/dev/null && return 0
            kill -0 "$mpid" 2>/dev/null || break
            sleep 0.02
        done
        wait "$mpid" 2>/dev/null || true
        mpid=
    done
    fail "no listening port"
}
finish() { # -> the exit code of the listener
    local rc=0
    wait "$mpid" || rc=$?
    mpid=
    return $rc
}

# 1. meter to meter, 8 MiB + 12345 bytes (not a multiple of any chunk)
n=$(( (8 << 20) + 12345 ))
listen "$tmp/r1"
out=$("$meter" send 127.0.0.1 "$port" "$n")
finish || fail "recv exited $? ($(cat "$tmp/r1"))"
read -r b s r p <<<"$(tail -1 "$tmp/r1")"
[ "$b" = "$n" ] && [ "$p" = pattern=ok ] || fail "recv said: $(tail -1 "$tmp/r1")"
read -r b s r <<<"$out"
[ "$b" = "$n" ] && awk -v r="$r" 'BEGIN { exit !(r > 0) }' || fail "send said: $out"
echo "ok: meter to meter, $n bytes, $r Mbit/s"

# 2. the formula, written independently: 200,000 good bytes, then one
# wrong byte before and one after the 64 KiB wrap.
gen() { # BYTES [FLIP_AT]
    python3 -c 'import sys
n = int(sys.argv[1]); flip = int(sys.argv[2]) if len(sys.argv) > 2 else -1
b = bytearray((i * 31 + (i >> 8)) & 0xff for i in range(n))
if flip >= 0: b[flip] ^= 0x40
sys.stdout.buffer.write(b)' "$@"
}
for case in "200000" "200000 65535" "200000 65536" "200000 199999" "3 0"; do
    set -- $case
    gen "$@" >"$tmp/stream"
    listen "$tmp/r2"
    python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read()); s.shutdown(socket.SHUT_WR)
while s.recv(65536): pass' "$port" "$tmp/stream"
    rc=0; finish || rc=$?
    line=$(tail -1 "$tmp/r2")
    if [ $# = 1 ]; then
        [ $rc = 0 ] && [[ "$line" == "$1 "*" pattern=ok" ]] || fail "good stream: rc $rc, $line"
    else
        [ $rc = 1 ] && [[ "$line" == "$1 "*" pattern=bad at $2" ]] || fail "flip at $2: rc $rc, $line"
    fi
    echo "ok: $case -> $line"
done

# 3. bad usage
for args in "" "recv" "recv 0" "recv 65536" "recv 9x" "send 127.0.0.1 9" \
            "send localhost 9 10" "send 127.0.0.1 9 -1" "sink 9"; do
    rc=0; "$meter" $args >/dev/null 2>&1 || rc=$?
    [ $rc = 2 ] || fail "'$args' exited $rc, not 2"
done
echo "ok: bad usage refused"
