#!/usr/bin/env bash
# Packages and updates (docs/performance.md, "Packages and updates"):
#   metal   the cost of checking a 1 MiB package at boot on bare metal
#           (QEMU TCG): hello with a 1 MiB file beside it, signed, in slot
#           A of a Tern image; from the serial log (guest clock): the slot
#           read, parse + every file's SHA-256 + the image hash, the ECDSA
#           P-256 signature, and UEFI entry -> TERN_READY (`metal: ready at
#           N ms`), with the check's share of it. RUNS boots.
#   ab      the metal check of two kernels, interleaved boot by boot so
#           that the shared machine's load falls on both alike: this
#           build's image ("new") and the same image with OTHER_EFI in its
#           ESP ("old"); RUNS boots each, then each one's fastest and median.
#   linux   the time from an accepted update request to the new version
#           serving, on tern-linux under scripts/tern-supervise.sh: v1 in
#           slot A with the update endpoint on, PUT v2 (hello 2.0.0), wall
#           time from sending the PUT to the 202, and to GET /hello
#           answering "v2" (restart, trial boot, DHCP over slirp, health
#           check). RUNS updates.
# usage: bench/update/bench.sh BUILD_DIR [RUNS] [metal|linux|both|ab OTHER_EFI]
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-5}
which=${3:-both}
other_efi=${4:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/integration/lib.sh"
tpk=$build/tools/tern-pkg key=$src/fixtures/pkg/keys/test-only-signing-key.pem
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-update.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
C="curl -sS --max-time 20"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# package NAME VERSION GREETING EXTRA_JSON [FILE_ARGS...]: $tmp/NAME.tpk
package() {
    local name=$1 version=$2 greeting=$3 extra=$4
    shift 4
    mkdir -p "$tmp/$name"
    cat >"$tmp/$name/manifest.json" <<JSON
{ "tern_manifest": 1, "name": "web", "version": "$version",
  "app": { "path": "app.elf", "env": { "GREETING": "$greeting" } },
  "endpoints": [ { "name": "web", "proto": "http", "port": 80 } ],
  "resources": { "memory_mib": 4 }, "health": { "http": "/healthz", "port": 80 }$extra }
JSON
    "$tpk" build --manifest "$tmp/$name/manifest.json" --file "app.elf=$build/apps/hello.elf" "$@" \
        -o "$tmp/$name/u.tpk" >/dev/null
    "$tpk" sign --key "$key" -o "$tmp/$name.tpk" "$tmp/$name/u.tpk" >/dev/null
}

# big_image: the 1 MiB package in slot A of $tmp/big.img
big_image() {
    head -c $((1024 * 1024 - 14192)) /dev/urandom >"$tmp/blob.bin"
    package big 1.0.0 big '' --file "blob.bin=$tmp/blob.bin"
    "$src/scripts/make-image.sh" "$build" "$tmp/big.img" "" 64 "$tmp/big.tpk" >/dev/null
    echo "metal: package $(stat -c %s "$tmp/big.tpk") bytes (hello + 1 MiB file), slot A, QEMU TCG"
}

# boot_once IMG RUN LABEL: one boot of a copy of IMG to TERN_READY; a row
# of the check's figures from the serial log, appended to $tmp/LABEL.rows
boot_once() {
    local port out=$tmp/serial.log rd ph sg ready
    port=$(free_port)
    cp "$1" "$tmp/run.img"
    "$src/scripts/run-qemu.sh" "$build" --image "$tmp/run.img" --net "$port" --rng \
        </dev/null >"$out" 2>&1 &
    pid=$!
    wait_for_marker "$out" '^TERN_READY ' 120 "$pid"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=
    rd=$(tr -d '\r' <"$out" | sed -n 's/.*pkg: slot-a: read [0-9]* bytes in \([0-9]*\) us.*/\1/p' | head -1)
    ph=$(tr -d '\r' <"$out" | sed -n 's/.*pkg: slot-a: [0-9]* bytes, parse+hashes \([0-9]*\) us.*/\1/p' | head -1)
    sg=$(tr -d '\r' <"$out" | sed -n 's/.*pkg: slot-a: [0-9]* bytes, parse+hashes [0-9]* us, signature \([0-9]*\) us.*/\1/p' | head -1)
    ready=$(tr -d '\r' <"$out" | sed -n 's/.*metal: ready at \([0-9]*\) ms after UEFI entry.*/\1/p' | head -1)
    awk -v r="$2" -v l="$3" -v rd="$rd" -v ph="$ph" -v sg="$sg" -v re="$ready" 'BEGIN {
        c = (rd + ph + sg) / 1000; printf "%3d  %-4s %7d  %15d  %12d  %8.1f  %8d  %4.1f%%\n", r, l, rd, ph, sg, c, re, 100 * c / re }' |
        tee -a "$tmp/$3.rows"
}

# summary LABEL: fastest and median of each column of LABEL's rows
summary() {
    local col name
    for col in 4:parse+hashes_us 5:signature_us 6:check_ms 7:ready_ms; do
        name=${col#*:}
        printf "%s %s fastest %s, median %s\n" "$1" "$name" \
            "$(awk -v c="${col%%:*}" '{print $c}' "$tmp/$1.rows" | sort -n | head -1)" \
            "$(awk -v c="${col%%:*}" '{print $c}' "$tmp/$1.rows" | median)"
    done
}

bench_metal() {
    command -v qemu-system-x86_64 >/dev/null || { echo "metal: no qemu-system-x86_64, skipped"; return; }
    big_image
    echo "run  kern read_us  parse+hashes_us  signature_us  check_ms  ready_ms  share"
    for r in $(seq "$runs"); do
        boot_once "$tmp/big.img" "$r" this
    done
    summary this
}

bench_ab() {
    command -v qemu-system-x86_64 >/dev/null || { echo "ab: no qemu-system-x86_64, skipped"; return; }
    [ -f "$other_efi" ] || fail "ab: OTHER_EFI '$other_efi' is not a file"
    big_image
    cp "$tmp/big.img" "$tmp/old.img"
    local esp
    esp=$(sgdisk -i 1 "$tmp/old.img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
    mcopy -o -i "$tmp/old.img@@$((esp * 512))" "$other_efi" ::/EFI/BOOT/BOOTX64.EFI
    echo "ab: new = $build's kernel, old = $other_efi"
    echo "run  kern read_us  parse+hashes_us  signature_us  check_ms  ready_ms  share"
    for r in $(seq "$runs"); do
        boot_once "$tmp/old.img" "$r" old
        boot_once "$tmp/big.img" "$r" new
    done
    summary old
    summary new
}

bench_linux() {
    local token=bench-token hp out=$tmp/linux.out
    local up=", \"update\": { \"path\": \"/tern/update\", \"token_sha256\": \"$(printf %s "$token" | sha256sum | cut -c1-64)\" }"
    package v1 1.0.0 v1 "$up"
    package v2 2.0.0 v2 "$up"
    package v3 3.0.0 v3 "$up"
    mkdir -p "$tmp/esp" "$tmp/data"
    "$build/tools/tern-mkimage" --output "$tmp/disk.img" --size 48 --esp "$tmp/esp" --data "$tmp/data" --quiet
    "$tpk" install "$tmp/disk.img" "$tmp/v1.tpk" >/dev/null 2>&1
    hp=$(free_port)
    "$src/scripts/tern-supervise.sh" "$build/backends/linux/tern-linux" --disk "$tmp/disk.img" \
        --hostfwd "tcp:127.0.0.1:$hp-:80" --log-level warn >"$out" 2>&1 </dev/null &
    pid=$!
    wait_for_marker "$out" '^TERN_READY ' 30 "$pid"
    echo "linux: PUT of a $(stat -c %s "$tmp/v2.tpk")-byte package to the update endpoint, tern-linux under tern-supervise"
    echo "run  accepted_ms  serving_ms"
    local want=v1 next
    for r in $(seq "$runs"); do
        [ "$want" = v2 ] && next=v3 || next=v2
        local t0 t1 t2 code
        t0=$(date +%s%N)
        code=$($C -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $token" \
            --data-binary @"$tmp/$next.tpk" "http://127.0.0.1:$hp/tern/update")
        t1=$(date +%s%N)
        [ "$code" = 202 ] || fail "run $r: PUT answered $code"
        for _ in $(seq 1000); do
            [ "$($C "http://127.0.0.1:$hp/hello" 2>/dev/null)" = "$next" ] && break
            sleep 0.01
        done
        t2=$(date +%s%N)
        printf "%3d  %11d  %10d\n" "$r" $(( (t1 - t0) / 1000000 )) $(( (t2 - t0) / 1000000 )) | tee -a "$tmp/linux.rows"
        want=$next
        # the next PUT may come once the trial has confirmed
        for _ in $(seq 500); do
            [ "$(grep -c '^TERN_UPDATE_CONFIRMED' "$out")" -ge "$r" ] && break
            sleep 0.01
        done
    done
    printf "median accepted_ms %s, serving_ms %s\n" "$(awk '{print $2}' "$tmp/linux.rows" | median)" \
        "$(awk '{print $3}' "$tmp/linux.rows" | median)"
    kill -TERM "$pid"; wait "$pid" || true; pid=
}

case $which in
    metal) bench_metal ;;
    ab) bench_ab ;;
    linux) bench_linux ;;
    both) bench_metal; bench_linux ;;
    *) fail "unknown part $which" ;;
esac
