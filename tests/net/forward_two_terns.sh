#!/usr/bin/env bash
# Port forwarding in tern-linux (--forward), end to end: A (10.0.5.1) has
# host ports on 127.0.0.1 forwarded over a wire to B (10.0.5.2), which
# serves the hello app (greeting from-guest-B), TCP echo (7) and UDP echo
# (7). Through A: curl gets B's greeting; 8 MiB each way through the echo
# come back intact (sha256) with a half close; 32 parallel curls all
# answer; holding more connections than the limit (64) refuses the rest
# and the counters at exit say so; UDP datagrams from two host sockets
# each get their own echo; A's /status (through a forward on B) has the
# counters. Bad --forward rules exit 2 with a message.
# usage: forward_two_terns.sh TERN_LINUX
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
tern=$1
tmp=$(mktemp -d)
pa= pb=
cleanup() {
    [ -n "$pa" ] && kill "$pa" 2>/dev/null && wait "$pa" 2>/dev/null
    [ -n "$pb" ] && kill "$pb" 2>/dev/null && wait "$pb" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# Bad rules: refused before anything starts, status 2, a clear message.
for bad in "tcp:127.0.0.1:80" "sctp:127.0.0.1:80-10.0.5.2:80" "tcp:127.0.0.1:0-10.0.5.2:80" \
           "tcp:127.0.0.1:8080-10.0.5.2:70000" "tcp:localhost:8080-10.0.5.2:80" \
           "udp:127.0.0.1:8080-0.0.0.0:53" "tcp:127.0.0.1:8080-10.0.5.2"; do
    rc=0
    "$tern" --net none --forward "$bad" >"$tmp/bad" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "--forward $bad: exit $rc, not 2"
    grep -q -- "--forward $bad: .*want tcp|udp:HOSTADDR:HOSTPORT-GUESTIP:GUESTPORT" "$tmp/bad" ||
        { cat "$tmp/bad"; fail "--forward $bad: no clear message"; }
done
rc=0
"$tern" --net none --forward tcp:127.0.0.1:8080-10.0.5.2:80 --forward tcp:127.0.0.1:8080-10.0.5.2:81 \
    >"$tmp/bad" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q "forwarded twice" "$tmp/bad" || fail "a host port twice: exit $rc"
echo "ok: bad rules refused with status 2"

p_http=$(free_port) p_echo=$(free_port) p_udp=$(free_port) p_status=$(free_port)
"$tern" --net "wire:$tmp/b.sock,$tmp/a.sock" --ip 10.0.5.2/24 --services echo --udp-echo 7 \
    --set env.GREETING=from-guest-B --forward "tcp:127.0.0.1:$p_status-10.0.5.1:80" \
    >"$tmp/b.out" 2>&1 &
pb=$!
wait_for_marker "$tmp/b.out" '^TERN_READY ' 10 "$pb"
"$tern" --net "wire:$tmp/a.sock,$tmp/b.sock" --ip 10.0.5.1/24 --no-app \
    --forward "tcp:127.0.0.1:$p_http-10.0.5.2:80" --forward "tcp:127.0.0.1:$p_echo-10.0.5.2:7" \
    --forward "udp:127.0.0.1:$p_udp-10.0.5.2:7" >"$tmp/a.out" 2>&1 &
pa=$!
wait_for_marker "$tmp/a.out" "forward: udp 127\.0\.0\.1:$p_udp -> 10\.0\.5\.2:7" 10 "$pa"

C="curl -sS --max-time 60"
got=$($C "http://127.0.0.1:$p_http/hello")
[ "$got" = "from-guest-B" ] || fail "curl through the forward: '$got'"
echo "ok: curl 127.0.0.1:$p_http/hello -> $got (B's greeting)"

/usr/bin/python3 - "$p_echo" "$p_udp" <<'PY'
import hashlib, os, socket, sys, threading, time
echo, udp = int(sys.argv[1]), int(sys.argv[2])

def bulk(n):
    data = os.urandom(n)
    s = socket.create_connection(("127.0.0.1", echo), timeout=30)
    got = []
    def reader():                      # slower than the forward: its writes queue up
        while True:
            b = s.recv(16384)
            if not b:
                return
            got.append(b)
            time.sleep(0.001)
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)          # half close: the echo ends after it
    t.join(60)
    s.close()
    back = b"".join(got)
    assert hashlib.sha256(back).hexdigest() == hashlib.sha256(data).hexdigest(), \
        "echo differs: %d of %d bytes" % (len(back), n)
    print("ok: %d bytes each way through the forward, sha256 %s" % (n, hashlib.sha256(data).hexdigest()[:16]))

bulk(8 << 20)

# A host reader slower than the forward (a 16 KiB receive buffer, 16 KiB
# every 4 ms) gets every byte, and the half close after them.
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect(("127.0.0.1", echo))
s.settimeout(30)
data = os.urandom(2 << 20)
t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
t.start()
back = []
while True:
    b = s.recv(16384)
    if not b:
        break
    back.append(b)
    time.sleep(0.004)
t.join()
s.close()
back = b"".join(back)
assert back == data, "slow reader: %d of %d bytes" % (len(back), len(data))
print("ok: a slow host reader still gets every byte (%d)" % len(data))

# UDP: two host sockets, each gets its own echo back.
socks = []
for i in range(2):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1.0)
    socks.append(u)
for attempt in range(5):
    try:
        for i, u in enumerate(socks):
            u.sendto(b"ping-%d" % i, ("127.0.0.1", udp))
        for i, u in enumerate(socks):
            d, a = u.recvfrom(2048)
            assert d == b"ping-%d" % i, d
            assert a == ("127.0.0.1", udp), a
        break
    except socket.timeout:
        continue
else:
    raise SystemExit("FAIL: no UDP echo through the forward")
print("ok: UDP datagrams from two host sockets echoed to each")

# The limit: 64 connections held open (each checked by an echo before the
# next: the wire drops frames past its 10-deep queue, so no SYN bursts
# here); 6 more are closed by the forwarder at once.
held = []
for i in range(64):
    c = socket.create_connection(("127.0.0.1", echo), timeout=30)
    c.sendall(b"x")
    assert c.recv(1) == b"x", "held connection %d: no echo" % i
    held.append(c)
for i in range(6):
    c = socket.create_connection(("127.0.0.1", echo), timeout=10)
    try:
        got = c.recv(1)
    except ConnectionResetError:
        got = b""
    assert got == b"", "connection %d past the limit was spliced" % (64 + i)
    c.close()
for c in held:
    c.close()
print("ok: 64 connections held, 6 more refused (the limit)")
PY

# Once the held ones are gone, 32 parallel curls all answer (SYNs past the
# wire's 10-frame queue are lost and retransmitted: this takes seconds).
sleep 0.5
pids=()
for i in $(seq 32); do
    $C -o "$tmp/par.$i" "http://127.0.0.1:$p_http/hello" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel curl failed"; done
for i in $(seq 32); do [ "$(cat "$tmp/par.$i")" = "from-guest-B" ] || fail "curl $i: $(cat "$tmp/par.$i")"; done
echo "ok: 32 parallel curls answered"

# A's /status, reached the other way: B forwards a host port to A's HTTP.
fwd_status() {
    $C "http://127.0.0.1:$p_status/status" |
        python3 -c "import json,sys; f=json.load(sys.stdin)['forward']; print(' '.join('%s=%s' % kv for kv in f.items()))"
}
sf() { echo "$st" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
for i in $(seq 250); do                # every connection ends (some wait for a retransmission)
    st=$(fwd_status)
    [ "$(sf conns)" = 0 ] && break
    sleep 0.2
done
echo "A's /status forward (after ${i} polls): $st"
[ "$(sf conns)" = 0 ] || fail "connections left open: $st"
[ "$(sf rules)" = 3 ] && [ "$(sf max_conns)" = 64 ] && [ "$(sf refused_limit)" = 6 ] &&
    [ "$(sf accepted)" = 99 ] && [ "$(sf udp_flows_opened)" = 2 ] || fail "A's /status: $st"

kill -TERM "$pa"
wait "$pa" || fail "tern-linux A exited with $?"
pa=
grep -q 'forward: accepted=' "$tmp/a.out" || fail "no counters at exit"
line=$(sed -n '/forward: accepted=/,$p' "$tmp/a.out" | sed -n 's/.*info forward: //p' | tr '\n' ' ')
echo "counters: $line"
field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
[ "$(field refused_limit)" -eq 6 ] || fail "refused_limit=$(field refused_limit), want 6"
[ "$(field accepted)" -eq $((1 + 2 + 64 + 32)) ] || fail "accepted=$(field accepted)"
[ "$(field bytes_to_guest)" -ge $((8 << 20)) ] || fail "bytes_to_guest=$(field bytes_to_guest)"
[ "$(field bytes_to_host)" -ge $((8 << 20)) ] || fail "bytes_to_host=$(field bytes_to_host)"
[ "$(field udp_to_host)" -ge 2 ] || fail "udp_to_host=$(field udp_to_host)"
kill -TERM "$pb"
wait "$pb" || fail "tern-linux B exited with $?"
pb=
echo "PASS"
