#!/usr/bin/env bash
# The workload on tern-linux, as a user runs it: the built-in default
# (the hello app, loaded by core's loader from the very file the build
# made: TERN_APP_LOAD's sha256 is sha256sum's), its routes answering curl
# through the PAL, --set overriding the greeting, --manifest with a file
# on the host, and clear refusals (exit 78 with a marker naming why) for
# a bad manifest, a non-overridable --set, an app file that is not an
# app and a missing one. Loopback only (slirp, --hostfwd).
# Then the manifest's own network (a static address instead of DHCP, the
# forward following it) and the echo app: raw TCP through the PAL's
# sockets, several clients at once, each on its own app thread.
# usage: linux_hello.sh TERN_LINUX HELLO_ELF ECHO_ELF SOURCE_ROOT
set -u
tern=$1 hello=$2 echo_elf=$3 root=$4
. "$root/tests/integration/lib.sh"
command -v curl >/dev/null || skip "curl not installed (scripts/install-deps.sh test)"
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"; echo "ok - $1"; }
C="curl -sS --max-time 10"

# start NAME ARGS...: runs tern-linux with a forward, waits for TERN_READY.
start() {
    local name=$1
    shift
    hp=$(free_port) ep=$(free_port)
    "$tern" --hostfwd "tcp:127.0.0.1:$hp-:80" --hostfwd "tcp:127.0.0.1:$ep-:7" "$@" >"$tmp/$name.out" 2>&1 &
    pid=$!
    wait_for_marker "$tmp/$name.out" '^TERN_READY http=80 .*app=' 15 "$pid"
}
stop() {
    kill -TERM "$pid"
    wait "$pid"
    local code=$?
    pid=
    expect "$1: SIGTERM ends it with 0" "$code" 0
}
# refused NAME WANT_REGEX ARGS...: exits 78 with the marker.
refused() {
    local name=$1 want=$2
    shift 2
    "$tern" "$@" >"$tmp/$name.out" 2>&1 </dev/null
    local code=$?
    expect "$name: exit status" "$code" 78
    grep -Eq "$want" "$tmp/$name.out" || { cat "$tmp/$name.out" >&2; fail "$name: no line matching $want"; }
    echo "ok - $name: $(grep -E "$want" "$tmp/$name.out" | head -1)"
}

# 1. the built-in default
start default
out="$tmp/default.out"
want=$(sha256sum "$hello" | cut -d' ' -f1)
expect "TERN_MANIFEST_OK source" "$(marker_field "$out" TERN_MANIFEST_OK source)" built-in
expect "TERN_APP_LOAD sha256 = the built file's" "$(marker_field "$out" TERN_APP_LOAD sha256)" "$want"
expect "TERN_APP_LOAD size" "$(marker_field "$out" TERN_APP_LOAD size)" "$(stat -c %s "$hello")"
grep -q '^TERN_APP_START name=hello' "$out" || fail "no TERN_APP_START"
grep -q '^TERN_APP_BIND name=hello proto=http port=80' "$out" || fail "no TERN_APP_BIND for the routes"
expect "greeting from the manifest's env" "$($C http://127.0.0.1:$hp/hello)" "Hello from Tern"
expect "the app's /healthz" "$($C http://127.0.0.1:$hp/healthz)" "ok"
expect "POST /hello refused by the app" "$($C -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:$hp/hello)" 405
expect "a body past the route's max_body" "$($C -o /dev/null -w '%{http_code}' -d x http://127.0.0.1:$hp/hello)" 413
expect "the OS's /status still there" "$($C http://127.0.0.1:$hp/status | head -c 19)" '{"backend":"linux",'
grep -Eq 'manifest: .*hello' "$out" || fail "the resolved manifest is not printed"
stop default

# 2. --set overrides what the manifest marks overridable
start set --set env.GREETING=Bonjour
expect "--set env.GREETING" "$($C http://127.0.0.1:$hp/hello)" "Bonjour"
stop set

# 3. --manifest FILE with the app beside it
mkdir -p "$tmp/wl"
cp "$hello" "$tmp/wl/greeter.elf"
cat >"$tmp/wl/manifest.json" <<'JSON'
{
  "tern_manifest": 1,
  "name": "greeter",
  "version": "2.0.0",
  "app": { "path": "greeter.elf", "env": { "GREETING": "from a file" } },
  "endpoints": [ { "name": "web", "proto": "http", "port": 80 } ],
  "health": { "http": "/healthz", "port": 80 }
}
JSON
start manifest --allow-unsigned --manifest "$tmp/wl/manifest.json"
expect "--manifest source" "$(marker_field "$tmp/manifest.out" TERN_MANIFEST_OK source)" "file:$tmp/wl/manifest.json"
expect "--manifest name" "$(marker_field "$tmp/manifest.out" TERN_APP_START name)" greeter
expect "--manifest greeting" "$($C http://127.0.0.1:$hp/hello)" "from a file"
stop manifest

# 4. refusals: nothing starts, exit 78, the reason on a marker
sed 's/"version": "2.0.0"/"version": "2.0.0", "colour": "blue"/' "$tmp/wl/manifest.json" >"$tmp/wl/unknown.json"
refused unknown-key '^TERN_MANIFEST_REFUSED .*path=\$\.colour' --allow-unsigned --manifest "$tmp/wl/unknown.json"
refused not-overridable '^TERN_MANIFEST_REFUSED .*path=app\.path' --set app.path=x.elf
printf 'not an ELF file at all' >"$tmp/wl/bogus.elf"
sed 's/greeter.elf/bogus.elf/' "$tmp/wl/manifest.json" >"$tmp/wl/bogus.json"
refused not-an-app '^TERN_APP_REFUSED name=greeter reason=' --allow-unsigned --manifest "$tmp/wl/bogus.json"
sed 's/greeter.elf/missing.elf/' "$tmp/wl/manifest.json" >"$tmp/wl/missing.json"
refused missing-app '^TERN_MANIFEST_REFUSED .*path=\$\.app\.path' --allow-unsigned --manifest "$tmp/wl/missing.json"
grep -q '^TERN_APP_START' "$tmp/not-an-app.out" && fail "an app started after a refusal"

# 5. the manifest's network: a static address, no DHCP; the forward follows it
sed 's|"health"|"network": { "mode": "static", "address": "192.0.2.77/24", "gateway": "192.0.2.2", "dns": ["192.0.2.3"] },\n  "health"|' \
    "$tmp/wl/manifest.json" >"$tmp/wl/static.json"
start static --allow-unsigned --manifest "$tmp/wl/static.json"
grep -q '^TERN_NET_UP if=net0 ip=192.0.2.77/24 gw=192.0.2.2 .*via=static' "$tmp/static.out" ||
    { cat "$tmp/static.out" >&2; fail "the manifest's static address was not used"; }
grep -q 'dhcp' "$tmp/static.out" && fail "DHCP ran although the manifest is static"
expect "served at the manifest's address" "$($C http://127.0.0.1:$hp/hello)" "from a file"
stop static

# 6. echo: raw TCP through the PAL's sockets, clients at once on app threads
cp "$echo_elf" "$tmp/wl/echo.elf"
cp "$root/fixtures/manifests/echo.json" "$tmp/wl/echo.json"
start echo --allow-unsigned --manifest "$tmp/wl/echo.json"
grep -q '^TERN_APP_BIND name=echo proto=tcp port=7' "$tmp/echo.out" || fail "no TERN_APP_BIND tcp 7"
/usr/bin/python3 - "$ep" <<'PY' || fail "echo through the PAL"
import os, socket, sys
port = int(sys.argv[1])

def recv_exactly(c, n):
    got = bytearray()
    while len(got) < n:
        d = c.recv(n - len(got))
        if not d:
            break
        got += d
    return bytes(got)

# slirp's forward listens with a backlog of one: open the clients one by
# one, each proven served (its first 1000 bytes echoed) before the next.
blobs = [os.urandom(50000 + i * 7777) for i in range(4)]
clients = []
for i, b in enumerate(blobs):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b[:1000])
    first = recv_exactly(c, 1000)
    assert first == b[:1000], "client %d: first echo %d bytes" % (i, len(first))
    clients.append(c)
for c, b in zip(clients, blobs):      # all four open, each mid-stream
    c.sendall(b[1000:])
    c.shutdown(socket.SHUT_WR)
for i, (c, b) in enumerate(zip(clients, blobs)):
    got = recv_exactly(c, len(b))
    assert got == b[1000:], \
        "client %d: %d of %d bytes back" % (i, len(got), len(b) - 1000)
    assert c.recv(1) == b"", "client %d: no end of stream" % i
print("ok - echo: 4 clients at once, every byte back in order")
PY
stop echo
echo "linux_hello: all passed"
