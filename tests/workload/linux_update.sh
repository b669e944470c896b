#!/usr/bin/env bash
# A/B updates on tern-linux under its supervisor (scripts/tern-supervise.sh),
# as a user runs them (docs/updates.md, "The boot"): v1 (hello 1.0.0,
# greeting "v1") in slot A, then v2 installed into slot B and tried:
#   healthy    its health check passes: TERN_UPDATE_CONFIRMED, v2 serves,
#              and the next start runs B without a trial;
#   crash      the fault app crashing at start (before its health route):
#              the crash path writes nothing, each restart counts a try,
#              then TERN_UPDATE_ROLLBACK reason=tries-exhausted;
#   unhealthy  its health check answers 503 until the deadline: the loop
#              stores the failure, exits 75, and the next start says
#              TERN_UPDATE_ROLLBACK reason=unhealthy;
#   spin       it loops without yielding: the watchdog ends it (81), tries
#              run out: reason=tries-exhausted;
#   cmdline    v1 (its manifest asks for the update endpoint) given on the
#              command line, --package and then --manifest, with the disk:
#              the endpoint stays off (an update would be staged into a slot
#              the next start does not boot), said at WARN and in /status,
#              and a PUT with the token changes nothing on the disk;
#   nomem      v2 with a 20 MiB file, on a tern-linux with a 20 MiB heap:
#              its slot cannot be read into memory to be checked: refused
#              as no-memory (not as a damaged file), rolled back to v1;
#   endpoint   v1's manifest turns the update endpoint on: a PUT without or
#              with a wrong token is 401 (counted), GET is 405, a tampered
#              or unsigned package is 422 with its reason and nothing on the
#              disk changes, v2 with the token is 202, tern-linux exits 75,
#              the supervisor restarts it into v2's trial, which confirms;
# in each bad case v1 serves again without a hand on it, /status says
# which slot failed and why, and B is marked bad.
# usage: linux_update.sh CASE BUILD_DIR SOURCE_ROOT FAULT_ELF
set -u
case_=$1 build=$2 root=$3 fault=$4
. "$root/tests/integration/lib.sh"
tern=$build/backends/linux/tern-linux tpk=$build/tools/tern-pkg mkimage=$build/tools/tern-mkimage
key=$root/fixtures/pkg/keys/test-only-signing-key.pem
for t in curl python3; do command -v $t >/dev/null || skip "$t not installed"; done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-linux-update.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$tmp"; }
trap cleanup EXIT
expect() { [ "$2" = "$3" ] || { tail -40 "$out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }
C="curl -sS --max-time 10"

# package NAME VERSION ELF ENV_JSON [HEALTH_JSON]: a signed package in $tmp/NAME.tpk
# (with the update endpoint on, token "s3cret", when $endpoint is set)
token=s3cret
endpoint=
[ "$case_" = endpoint ] || [ "$case_" = cmdline ] && endpoint=", \"update\": { \"path\": \"/tern/update\", \"token_sha256\": \"$(printf %s "$token" | sha256sum | cut -c1-64)\" }"
package() {
    local health=${5:-'{ "http": "/healthz", "port": 80 }'}
    local files=("${@:6}")
    mkdir -p "$tmp/$1"
    cat >"$tmp/$1/manifest.json" <<JSON
{
  "tern_manifest": 1, "name": "web", "version": "$2",
  "app": { "path": "app.elf", "env": $4 },
  "endpoints": [ { "name": "web", "proto": "http", "port": 80 } ],
  "resources": { "memory_mib": $memory },
  "health": $health$endpoint
}
JSON
    "$tpk" build --manifest "$tmp/$1/manifest.json" --file "app.elf=$3" "${files[@]}" -o "$tmp/$1/u.tpk" >/dev/null &&
        "$tpk" sign --key "$key" -o "$tmp/$1.tpk" "$tmp/$1/u.tpk" >/dev/null || fail "package $1"
}
memory=4
[ "$case_" = nomem ] && memory=1        # v1 fits beside the OS in a 20 MiB heap
package v1 1.0.0 "$build/apps/hello.elf" '{ "GREETING": "v1" }'
case $case_ in
    healthy|endpoint|cmdline) package v2 2.0.0 "$build/apps/hello.elf" '{ "GREETING": "v2" }' ;;
    nomem)     head -c $((20 << 20)) /dev/urandom >"$tmp/blob.bin"
               package v2 2.0.0 "$build/apps/hello.elf" '{ "GREETING": "v2" }' '' --file "blob.bin=$tmp/blob.bin" ;;
    crash)     package v2 2.0.0 "$fault" '{ "FAULT": "null", "FAULT_EARLY": "1" }' ;;
    spin)      package v2 2.0.0 "$fault" '{ "FAULT": "spin", "FAULT_EARLY": "1" }' ;;
    unhealthy) package v2 2.0.0 "$fault" '{ "FAULT": "unhealthy", "FAULT_GREETING": "v2" }' \
                   '{ "http": "/healthz", "port": 80, "deadline_ms": 1500 }' ;;
    *) fail "unknown case $case_" ;;
esac

mkdir -p "$tmp/esp" "$tmp/data"
"$mkimage" --output "$tmp/disk.img" --size 64 --esp "$tmp/esp" --data "$tmp/data" --quiet || fail "mkimage"
"$tpk" install "$tmp/disk.img" "$tmp/v1.tpk" >/dev/null 2>&1 || fail "install v1"
hp=$(free_port)
out=$tmp/out
mem=()
[ "$case_" = nomem ] && mem=(--mem 20)
supervise() {
    "$root/scripts/tern-supervise.sh" "$tern" --disk "$tmp/disk.img" --hostfwd "tcp:127.0.0.1:$hp-:80" \
        "${mem[@]}" --log-level warn >>"$out" 2>&1 </dev/null &
    pid=$!
}
status_field() {
    $C "http://127.0.0.1:$hp/status" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
# serves WANT SECONDS: GET /hello answers WANT within SECONDS
serves() {
    local i
    for i in $(seq $(( $2 * 5 ))); do
        [ "$($C "http://127.0.0.1:$hp/hello" 2>/dev/null)" = "$1" ] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$out" >&2; fail "the supervisor ended"; }
        sleep 0.2
    done
    tail -40 "$out" >&2
    fail "GET /hello never answered $1"
}

if [ "$case_" = cmdline ]; then
    cp "$build/apps/hello.elf" "$tmp/v1/app.elf"
    cp "$tmp/disk.img" "$tmp/before.img"
    for how in "--package $tmp/v1.tpk" "--allow-unsigned --manifest $tmp/v1/manifest.json"; do
        : >"$out"
        # shellcheck disable=SC2086 # $how is two words
        "$tern" --disk "$tmp/disk.img" $how --hostfwd "tcp:127.0.0.1:$hp-:80" --log-level warn \
            >"$out" 2>&1 </dev/null &
        pid=$!
        wait_for_marker "$out" '^TERN_READY ' 30 "$pid"
        serves v1 20
        grep -q "update endpoint is off: the workload is from .*not from a slot" "$out" ||
            { cat "$out" >&2; fail "${how%% *}: no WARN line saying the endpoint is off"; }
        expect "${how%% *}: /status says the endpoint is off" \
            "$(status_field 'd["update"]["endpoint"]["on"], d["update"]["endpoint"]["off"], d["update"]["endpoint"]["path"]')" \
            "False not-from-a-slot /tern/update"
        code=$($C -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $token" \
            --data-binary @"$tmp/v2.tpk" "http://127.0.0.1:$hp/tern/update")
        [ "$code" = 202 ] && fail "${how%% *}: PUT v2 with the token was accepted"
        echo "ok - ${how%% *}: PUT v2 with the token: $code"
        kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=
        grep -q '^TERN_UPDATE_STAGED' "$out" && fail "${how%% *}: v2 was staged"
        cmp -s "$tmp/disk.img" "$tmp/before.img" || fail "${how%% *}: the PUT changed the disk"
        echo "ok - ${how%% *}: the disk is byte for byte as it was"
    done
    echo "PASS: $case_"
    exit 0
fi
if [ "$case_" = endpoint ]; then
    supervise
    serves v1 20
    U="http://127.0.0.1:$hp/tern/update"
    put() { $C -o "$tmp/put.body" -w '%{http_code}' -X PUT --data-binary @"$1" "${@:2}" "$U"; }
    expect "PUT without credentials: 401" "$(put "$tmp/v2.tpk")" 401
    expect "PUT with a wrong token: 401" "$(put "$tmp/v2.tpk" -H 'Authorization: Bearer s3cre')" 401
    expect "GET: 405" "$($C -o /dev/null -w '%{http_code}' "$U")" 405
    cp "$tmp/v2.tpk" "$tmp/bad.tpk"
    python3 - "$tmp/bad.tpk" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
b[64 + 144 * int.from_bytes(b[12:16], 'little') + 200] ^= 1    # a byte of the first file
open(p, 'wb').write(b)
EOF
    cp "$tmp/disk.img" "$tmp/before.img"
    expect "PUT a tampered package: 422" "$(put "$tmp/bad.tpk" -H "Authorization: Bearer $token")" 422
    grep -q '^refused: file-hash' "$tmp/put.body" || fail "422 body: $(cat "$tmp/put.body")"
    expect "PUT an unsigned package: 422" "$(put "$tmp/v2/u.tpk" -H "Authorization: Bearer $token")" 422
    grep -q '^refused: unsigned' "$tmp/put.body" || fail "422 body: $(cat "$tmp/put.body")"
    cmp -s "$tmp/disk.img" "$tmp/before.img" || fail "a refused package changed the disk"
    echo "ok - refused packages left the disk byte for byte as it was"
    expect "/status: the endpoint's counters" "$(status_field 'd["update"]["endpoint"]["unauthorized"], d["update"]["endpoint"]["refused"], d["update"]["pending"]')" "2 2 -"
    t0=$(date +%s%N)
    expect "PUT v2 with the token: 202" "$(put "$tmp/v2.tpk" -H "Authorization: Bearer $token")" 202
    serves v2 30
    t1=$(date +%s%N)
    grep -q '^TERN_UPDATE_STAGED slot=B name=web version=2.0.0' "$out" || fail "no TERN_UPDATE_STAGED"
    grep -q 'tern-supervise: exit 75: restarting' "$out" || fail "no restart with 75"
    wait_for_marker "$out" '^TERN_UPDATE_CONFIRMED slot=B' 30 "$pid"
    echo "ok - v2 staged, tried and confirmed; serving $(( (t1 - t0) / 1000000 )) ms after the 202's request"
    expect "/status" "$(status_field 'd["update"]["active"], d["update"]["confirmed"], d["workload"]["package"]["version"]')" "B True 2.0.0"
    echo "PASS: $case_"
    exit 0
fi
"$tpk" install "$tmp/disk.img" "$tmp/v2.tpk" >"$tmp/install" 2>&1 || { cat "$tmp/install" >&2; fail "install v2"; }
grep -q 'into slot B .*pending' "$tmp/install" || fail "v2 not staged: $(cat "$tmp/install")"
supervise
if [ "$case_" = nomem ]; then
    wait_for_marker "$out" '^TERN_UPDATE_ROLLBACK ' 30 "$pid"
    expect "TERN_PKG_REFUSED" "$(marker_field "$out" TERN_PKG_REFUSED source) $(marker_field "$out" TERN_PKG_REFUSED reason)" \
        "slot-b no-memory"
    marker_field "$out" TERN_PKG_REFUSED detail | grep -q 'more_than_the_heap' ||
        fail "TERN_PKG_REFUSED detail: $(grep -m1 '^TERN_PKG_REFUSED' "$out")"
    expect "TERN_UPDATE_ROLLBACK" "$(marker_field "$out" TERN_UPDATE_ROLLBACK slot) $(marker_field "$out" TERN_UPDATE_ROLLBACK reason) $(marker_field "$out" TERN_UPDATE_ROLLBACK to) $(marker_field "$out" TERN_UPDATE_ROLLBACK text)" \
        "B verify-failed A no-memory"
    serves v1 20
    expect "/status: the rollback" "$(status_field 'd["update"]["active"], d["update"]["slots"][1]["bad"], d["update"]["last_rollback"]["reason"], d["update"]["last_rollback"]["text"], d["workload"]["package"]["version"]')" \
        "A True verify-failed no-memory 1.0.0"
    echo "PASS: $case_"
    exit 0
fi
wait_for_marker "$out" '^TERN_UPDATE_TRY slot=B' 30 "$pid"
echo "ok - the first start tries slot B: $(grep -m1 '^TERN_UPDATE_TRY' "$out")"
if [ "$case_" = healthy ]; then
    wait_for_marker "$out" '^TERN_UPDATE_CONFIRMED slot=B' 30 "$pid"
    serves v2 10
    echo "ok - v2 confirmed and serving"
    expect "/status" "$(status_field 'd["update"]["active"], d["update"]["pending"], d["update"]["confirmed"], d["workload"]["package"]["version"], d["update"]["last_rollback"]')" \
        "B - True 2.0.0 None"
    kill -TERM "$pid"; wait "$pid"; expect "the supervisor ends with tern-linux's 0" "$?" 0; pid=
    : >"$out"
    supervise
    serves v2 20
    grep -q '^TERN_UPDATE_TRY' "$out" && fail "a confirmed slot was tried again"
    expect "after a restart: B without a trial" "$(marker_field "$out" TERN_PKG_OK slot) $(marker_field "$out" TERN_PKG_OK trial)" "B "
    echo "PASS: $case_"
    exit 0
fi

want=tries-exhausted
[ "$case_" = unhealthy ] && want=unhealthy
wait_for_marker "$out" '^TERN_UPDATE_ROLLBACK ' 90 "$pid"
expect "TERN_UPDATE_ROLLBACK reason" "$(marker_field "$out" TERN_UPDATE_ROLLBACK reason)" "$want"
expect "TERN_UPDATE_ROLLBACK slot, to" "$(marker_field "$out" TERN_UPDATE_ROLLBACK slot) $(marker_field "$out" TERN_UPDATE_ROLLBACK to)" "B A"
serves v1 20
echo "ok - v1 serves again, restarted by the supervisor"
case $case_ in
    crash) grep -q '^TERN_APP_EXIT name=web code=81 reason=crash:page-fault' "$out" || fail "no crash marker" ;;
    spin) grep -q '^TERN_APP_EXIT name=web code=81 reason=crash:watchdog' "$out" || fail "no watchdog marker" ;;
    unhealthy)
        grep -q '^TERN_UPDATE_FAILED slot=B reason=unhealthy code=82' "$out" || fail "no TERN_UPDATE_FAILED"
        grep -q 'tern-supervise: exit 75: restarting' "$out" || fail "the failed trial did not exit 75" ;;
esac
[ "$case_" = unhealthy ] || expect "tries: three trial starts of B" "$(grep -c '^TERN_UPDATE_TRY slot=B' "$out")" 3
expect "/status: the rollback" "$(status_field 'd["update"]["active"], d["update"]["pending"], d["update"]["slots"][1]["bad"], d["update"]["last_rollback"]["slot"], d["update"]["last_rollback"]["reason"], d["workload"]["package"]["version"]')" \
    "A - True B $want 1.0.0"
echo "PASS: $case_"
