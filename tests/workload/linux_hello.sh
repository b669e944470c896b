#!/usr/bin/env bash
# The workload on tern-linux, as a user runs it: the built-in default
# (the hello app, loaded by core's loader from the very file the build
# made: TERN_APP_LOAD's sha256 is sha256sum's), its routes answering curl
# through the PAL, --set overriding the greeting, --manifest with a file
# on the host, and clear refusals (exit 78 with a marker naming why) for
# a bad manifest, a non-overridable --set, an app file that is not an
# app and a missing one. Loopback only (slirp, --hostfwd).
# usage: linux_hello.sh TERN_LINUX HELLO_ELF SOURCE_ROOT
set -u
tern=$1 hello=$2 root=$3
. "$root/tests/integration/lib.sh"
command -v curl >/dev/null || skip "curl not installed (scripts/install-deps.sh test)"
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"; echo "ok - $1"; }
C="curl -sS --max-time 10"

# start NAME ARGS...: runs tern-linux with a forward, waits for TERN_READY.
start() {
    local name=$1
    shift
    hp=$(free_port)
    "$tern" --hostfwd "tcp:127.0.0.1:$hp-:80" "$@" >"$tmp/$name.out" 2>&1 &
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
start manifest --manifest "$tmp/wl/manifest.json"
expect "--manifest source" "$(marker_field "$tmp/manifest.out" TERN_MANIFEST_OK source)" "file:$tmp/wl/manifest.json"
expect "--manifest name" "$(marker_field "$tmp/manifest.out" TERN_APP_START name)" greeter
expect "--manifest greeting" "$($C http://127.0.0.1:$hp/hello)" "from a file"
stop manifest

# 4. refusals: nothing starts, exit 78, the reason on a marker
sed 's/"version": "2.0.0"/"version": "2.0.0", "colour": "blue"/' "$tmp/wl/manifest.json" >"$tmp/wl/unknown.json"
refused unknown-key '^TERN_MANIFEST_REFUSED .*path=\$\.colour' --manifest "$tmp/wl/unknown.json"
refused not-overridable '^TERN_MANIFEST_REFUSED .*path=app\.path' --set app.path=x.elf
printf 'not an ELF file at all' >"$tmp/wl/bogus.elf"
sed 's/greeter.elf/bogus.elf/' "$tmp/wl/manifest.json" >"$tmp/wl/bogus.json"
refused not-an-app '^TERN_APP_REFUSED name=greeter reason=' --manifest "$tmp/wl/bogus.json"
sed 's/greeter.elf/missing.elf/' "$tmp/wl/manifest.json" >"$tmp/wl/missing.json"
refused missing-app '^TERN_MANIFEST_REFUSED .*path=\$\.app\.path' --manifest "$tmp/wl/missing.json"
grep -q '^TERN_APP_START' "$tmp/not-an-app.out" && fail "an app started after a refusal"
echo "linux_hello: all passed"
