#!/usr/bin/env bash
# tern-supervise: runs tern-linux and restarts it the way a machine resets
# (docs/updates.md, "tern-linux's supervisor"). tern-linux's exit status
# says what to do:
#   75  restart: an update was staged, or a failed trial was rolled back
#       (the next start runs what the A/B record says)
#   81  the app crashed or the watchdog stopped it
#   82  the app's health check never passed, or failed too often
# Those three start tern-linux again with the same arguments, at most
# MAX times in a row (--max-restarts, default 10; a run that served for
# 60 s resets the count). Anything else ends the supervisor with
# tern-linux's status (0 after SIGTERM/SIGINT, 78 for a refused workload,
# 70 for a panic). SIGTERM and SIGINT are passed on to tern-linux and end
# the supervisor once it exits.
#
# usage: scripts/tern-supervise.sh [--max-restarts MAX] TERN_LINUX [ARGS...]
set -u
max=10
if [ "${1:-}" = --max-restarts ]; then
    max=$2
    shift 2
fi
[ $# -ge 1 ] || { echo "usage: $0 [--max-restarts MAX] TERN_LINUX [ARGS...]" >&2; exit 2; }
child= stopping=
stop() { stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; }
trap stop TERM INT
restarts=0
while :; do
    started=$(date +%s)
    "$@" &
    child=$!
    status=0
    wait "$child" || status=$?
    # a signal interrupts wait: wait again for the child's own status
    while kill -0 "$child" 2>/dev/null; do
        status=0
        wait "$child" || status=$?
    done
    child=
    [ -n "$stopping" ] && exit "$status"
    case $status in
        75|81|82) ;;
        *) exit "$status" ;;
    esac
    [ $(( $(date +%s) - started )) -ge 60 ] && restarts=0
    restarts=$((restarts + 1))
    if [ "$restarts" -gt "$max" ]; then
        echo "tern-supervise: exit $status, $max restarts in a row: giving up" >&2
        exit "$status"
    fi
    echo "tern-supervise: exit $status: restarting ($restarts/$max)" >&2
done
