#!/usr/bin/env bash
# kv on tern-linux from a Tern disk image, as on bare metal: the workload
# is the signed kv.tpk in the data partition's A/B slot A (tern-pkg
# install), the keys live on the data partition too. Keys survive a restart; then writers PUT versioned
# values while tern-linux is killed with SIGKILL mid-write, three times:
# after each restart every key holds exactly one of the values written to
# it (old or new, never torn or empty), and after the last run the data
# partition passes fsck.fat -n.
# usage: linux_kv.sh TERN_LINUX TERN_MKIMAGE KV_TPK SOURCE_ROOT TERN_PKG
set -u
tern=$1 mkimage=$2 kv=$3 root=$4 tpk=$5
. "$root/tests/integration/lib.sh"
for t in curl sgdisk fsck.fat; do command -v $t >/dev/null || skip "$t not installed"; done
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
expect() { [ "$2" = "$3" ] || { tail -20 "$tmp/out" >&2; fail "$1: got [$2], want [$3]"; }; echo "ok - $1"; }
C="curl -sS --max-time 10"

mkdir -p "$tmp/esp" "$tmp/data"
"$mkimage" --output "$tmp/disk.img" --size 48 --esp "$tmp/esp" --data "$tmp/data" --quiet || fail "mkimage"
"$tpk" install "$tmp/disk.img" "$kv" >/dev/null 2>&1 || fail "tern-pkg install"

start() {
    hp=$(free_port)
    "$tern" --disk "$tmp/disk.img" --hostfwd "tcp:127.0.0.1:$hp-:80" --log-level warn >"$tmp/out" 2>&1 &
    pid=$!
    wait_for_marker "$tmp/out" '^TERN_READY http=80 .*app=kv' 15 "$pid"
    H="http://127.0.0.1:$hp"
}

start
expect "from the disk: slot A" "$(marker_field "$tmp/out" TERN_MANIFEST_OK source)" slot-a
expect "PUT" "$($C -o /dev/null -w '%{http_code}' -X PUT --data-binary 'kept' $H/kv/keep)" 201
kill -TERM "$pid"; wait "$pid"; pid=
start
expect "a key survives a restart" "$($C $H/kv/keep)" kept

# value KEY N: the N-th value written to KEY (distinct lengths and bytes)
value() { printf '%s-v%05d-%s' "$1" "$2" "$(printf "%$(( ($2 % 7) * 300 + 1 ))s" | tr ' ' "$(printf '%x' $(( $2 % 16 )))")"; }
for round in 1 2 3; do
    for k in a b c d; do
        ( n=0; while [ $n -lt 400 ]; do
              n=$((n + 1)); value "$k" $n >"$tmp/v.$k"
              curl -s --max-time 2 -o /dev/null -X PUT --data-binary @"$tmp/v.$k" "$H/kv/$k"
              [ $? = 7 ] && break          # refused: tern-linux is gone
          done ) &
    done
    # Let the writers get going (every key written a few times: under load
    # that takes longer than any fixed pause), then kill mid-write.
    for _ in $(seq 300); do
        busy=0
        for k in a b c d; do
            n=$(curl -s --max-time 2 "$H/kv/$k" | sed -n 's/^'"$k"'-v\([0-9]\{5\}\)-.*/\1/p')
            [ -n "$n" ] && [ $((10#$n)) -ge 3 ] && busy=$((busy + 1))
        done
        [ $busy = 4 ] && break
        sleep 0.1
    done
    [ $busy = 4 ] || fail "round $round: the writers made no progress in 30 s"
    sleep 0.$((round * 2))
    kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
    wait                          # the writers fail fast once the forward is gone
    start
    written=0
    for k in a b c d; do
        got=$($C -w '|%{http_code}' "$H/kv/$k")
        code=${got##*|} body=${got%|*}
        [ "$code" = 404 ] && continue          # killed before its first PUT landed
        [ "$code" = 200 ] || fail "round $round key $k: status $code"
        n=$(printf '%s' "$body" | sed -n 's/^'"$k"'-v\([0-9]\{5\}\)-.*/\1/p')
        [ -n "$n" ] || fail "round $round key $k: a torn value: $(printf '%s' "$body" | head -c 40)"
        [ "$body" = "$(value "$k" $((10#$n)))" ] || fail "round $round key $k: value $n is torn"
        written=$((written + 10#$n))
    done
    [ "$written" -gt 4 ] || fail "round $round: the writers wrote almost nothing before the kill"
    echo "ok - round $round: every key old or new after SIGKILL mid-write ($written writes had landed)"
done
expect "the first key still there" "$($C $H/kv/keep)" kept
kill -TERM "$pid"; wait "$pid"; pid=
first=$(sgdisk -i 2 "$tmp/disk.img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
last=$(sgdisk -i 2 "$tmp/disk.img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
dd if="$tmp/disk.img" of="$tmp/data.img" bs=512 skip="$first" count=$((last - first + 1)) status=none
fsck.fat -n "$tmp/data.img" >"$tmp/fsck" 2>&1 || { cat "$tmp/fsck" >&2; fail "fsck.fat -n on the data partition"; }
echo "ok - the data partition is fsck-clean"
echo "linux_kv: all passed"
