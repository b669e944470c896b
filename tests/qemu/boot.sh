#!/usr/bin/env bash
# Boots the UEFI image under QEMU + OVMF (scripts/run-qemu.sh) with a
# fw_cfg command line and checks the serial markers and QEMU's exit status.
#
# usage: boot.sh CASE BUILD_DIR SOURCE_DIR
#   halt   halt=7                -> TERN_BOOT_OK backend=baremetal, musl's self-check
#                                   passed, TERN_HALT code=7, status 15
#   sleep  halt=7 delay_ms=1500  -> the halt comes >= 1500 ms (guest clock) after boot,
#                                   after >= 1 timer wake-up, >= 1 s of host time later,
#                                   and 50 ms of PIT reads as 50 ms +- 0.5 % on the clock
#   ud     fault=ud              -> TERN_PANIC reason=exception vector=6 rip=0x..., status 71
#   pf     fault=pf              -> vector=14 with a non-zero cr2, status 71
#   de     fault=de              -> vector=0, status 71
#   null   fault=null            -> #PF with cr2=0x0 (the NULL page is not mapped), status 71
#   wx     fault=wx              -> a sealed exec_alloc page runs (returns 42), then a
#                                   write to it is #PF err=0x3 at that page, status 71
#   spin   fault=spin            -> a core thread that never yields: the watchdog's
#                                   register dump and TERN_PANIC reason=a_core_thread_ran_N_ms...
#                                   (N >= 1000), no TERN_APP_EXIT, status 71
set -euo pipefail
case_=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
. "$src/tests/integration/lib.sh"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (qemu-system-x86)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF not installed (ovmf)"

case $case_ in
    halt)  cmdline="halt=7" ;;
    sleep) cmdline="halt=7 delay_ms=1500" ;;
    ud)    cmdline="fault=ud" ;;
    pf)    cmdline="fault=pf" ;;
    de)    cmdline="fault=de" ;;
    null)  cmdline="fault=null" ;;
    wx)    cmdline="fault=wx" ;;
    spin)  cmdline="fault=spin" ;;
    *) fail "unknown case $case_" ;;
esac

out=$(mktemp "${TMPDIR:-/tmp}/tern-qemu-test.XXXXXX")
trap 'rm -f "$out"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT

"$src/scripts/run-qemu.sh" "$build" -fw_cfg "name=opt/tern/cmdline,string=$cmdline" \
    </dev/null >"$out" 2>&1 &
pid=$!

wait_for_marker "$out" '^TERN_BOOT_OK backend=baremetal version=[^ ]+ boot_ms=[0-9]+' 100 "$pid"
boot_host_ns=$(date +%s%N)

expect_status() {
    local want=$1 status=0
    wait "$pid" || status=$?
    pid=
    if [ "$status" -ne "$want" ]; then
        cat "$out" >&2
        fail "QEMU exit status $status, expected $want"
    fi
}

case $case_ in
    halt)
        wait_for_marker "$out" '^TERN_HALT code=7([^0-9]|$)' 60 "$pid"
        grep -aq 'metal: .*libc self-check ok' "$out" || fail "musl self-check line missing"
        grep -aq 'metal: .*rng rdrand (read ok)' "$out" || fail "RDRAND not used or failed (-cpu max has it)"
        expect_status 15
        ;;
    sleep)
        wait_for_marker "$out" '^TERN_HALT code=7([^0-9]|$)' 60 "$pid"
        host_ms=$(( ($(date +%s%N) - boot_host_ns) / 1000000 ))
        line=$(grep -a -m1 'metal: test action at' "$out" | tr -d '\r')
        at_ms=$(echo "$line" | sed -n 's/.*test action at \([0-9]*\) ms.*/\1/p')
        wakeups=$(echo "$line" | sed -n 's/.*after \([0-9]*\) timer wake-ups.*/\1/p')
        [ -n "$at_ms" ] && [ -n "$wakeups" ] || fail "no test-action line: $line"
        [ "$at_ms" -ge 1500 ] || fail "halted at $at_ms ms, before the 1500 ms delay"
        [ "$wakeups" -ge 1 ] || fail "slept without a timer interrupt (wakeups=$wakeups)"
        [ "$host_ms" -ge 1000 ] || fail "guest's 1500 ms took only $host_ms ms of host time"
        # The TSC calibration (a provisional rate from ~1 ms of PIT, refined
        # over >= 20 ms once the loop runs, within 0.05 % by its error bound)
        # must read 50 ms of PIT as 49 750..50 250 us (0.5 %: room for the
        # check's own window on a busy host).
        grep -aq 'clock refined over \([2-9][0-9]\|[1-9][0-9][0-9]\) ms of PIT' "$out" ||
            fail "the clock was not refined over a PIT window of >= 20 ms"
        check_us=$(sed -n 's/.*clock check: 50 ms of PIT = \([0-9]*\) us.*/\1/p' "$out" | tr -d '\r')
        [ -n "$check_us" ] || fail "no clock check line"
        [ "$check_us" -ge 49750 ] && [ "$check_us" -le 50250 ] ||
            fail "calibrated clock off by more than 0.5 %: 50 ms of PIT read as $check_us us"
        echo "guest action at $at_ms ms, $wakeups wake-up(s), $host_ms ms host time after boot;" \
            "50 ms of PIT read as $check_us us"
        grep -a 'clock refined' "$out" | tr -d '\r'
        expect_status 15
        ;;
    ud|pf|de)
        vec=$(case $case_ in ud) echo 6 ;; pf) echo 14 ;; de) echo 0 ;; esac)
        wait_for_marker "$out" "^TERN_PANIC reason=exception vector=$vec rip=0x[0-9a-f]+ " 60 "$pid"
        if [ "$case_" = pf ]; then
            grep -aEq "^TERN_PANIC reason=exception vector=14 rip=0x[0-9a-f]+ err=0x[0-9a-f]+ cr2=0x[1-9a-f][0-9a-f]* " "$out" ||
                fail "#PF marker without a non-zero cr2"
        fi
        grep -aq '^  rax=' "$out" || fail "no register dump after the panic marker"
        expect_status 71
        ;;
    null)
        wait_for_marker "$out" '^TERN_PANIC reason=exception vector=14 rip=0x[0-9a-f]+ err=0x[0-9a-f]+ cr2=0x0 ' 60 "$pid"
        expect_status 71
        ;;
    wx)
        wait_for_marker "$out" '^TERN_PANIC reason=exception vector=14 ' 60 "$pid"
        page=$(sed -n 's/.*wx: sealed page \(0x[0-9a-f]*\) ran, returned 42.*/\1/p' "$out" | tr -d '\r')
        [ -n "$page" ] || { cat "$out" >&2; fail "the sealed page did not run or returned something else"; }
        grep -aEq "^TERN_PANIC reason=exception vector=14 rip=0x[0-9a-f]+ err=0x3 cr2=$page " "$out" ||
            { cat "$out" >&2; fail "no write #PF (err=0x3) at the sealed page $page"; }
        expect_status 71
        ;;
    spin)
        wait_for_marker "$out" '^TERN_PANIC reason=a_core_thread_ran_[0-9]+_ms_without_yielding' 60 "$pid"
        ms=$(sed -n 's/^TERN_PANIC reason=a_core_thread_ran_\([0-9]*\)_ms.*/\1/p' "$out" | head -1)
        [ "$ms" -ge 1000 ] || { cat "$out" >&2; fail "the watchdog fired after $ms ms, before its 1000 ms"; }
        grep -aq '^  rip=[0-9a-f]\{16\} ' "$out" || { cat "$out" >&2; fail "no register dump"; }
        grep -aq '^TERN_APP_EXIT' "$out" && fail "a core thread's stall called the app's"
        expect_status 71
        ;;
esac
grep -a '^TERN_' "$out" | tr -d '\r'
echo "PASS: $case_"
