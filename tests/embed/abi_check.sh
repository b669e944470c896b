#!/bin/sh
# The shared libraries' exported surface against the committed lists
# (tests/embed/abi-*.txt): every defined dynamic symbol, one a line,
# sorted. A difference fails, printed as a diff (- listed, + exported):
# the public API changed; if that is deliberate, `ninja -C BUILD
# abi-update` rewrites the lists (review and commit them).
# usage: abi_check.sh [--update] LIB LIST [LIB LIST ...]
set -eu
update=0
[ "$1" = --update ] && { update=1; shift; }
status=0
while [ $# -ge 2 ]; do
    lib=$1 list=$2
    shift 2
    tmp=$(mktemp)
    # (ASan builds add one __odr_asan.NAME per exported global: not API)
    nm -D --defined-only "$lib" | awk '$3 !~ /^__odr_asan\./ { print $3 }' | LC_ALL=C sort >"$tmp"
    if [ $update = 1 ]; then
        mv "$tmp" "$list"
        echo "abi: wrote $list ($(wc -l <"$list") symbols)"
        continue
    fi
    if diff -u "$list" "$tmp" >"$tmp.diff"; then
        echo "abi: $(basename "$lib"): $(wc -l <"$tmp") symbols, as $(basename "$list") lists"
    else
        echo "abi: $(basename "$lib") exports other symbols than $(basename "$list") lists:"
        tail -n +3 "$tmp.diff" | grep '^[-+]'
        status=1
    fi
    rm -f "$tmp" "$tmp.diff"
done
exit $status
