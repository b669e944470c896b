# Helpers for the storage referee tests (sourced).
export MTOOLS_SKIP_CHECK=1
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

need_tools() {
    for t in sgdisk mkfs.fat fsck.fat mcopy mdir mmd mdel python3; do
        command -v "$t" >/dev/null || skip "$t not installed (scripts/install-deps.sh test)"
    done
}

# part_start IMG N / part_end IMG N: sectors, from sgdisk (the referee).
part_start() { sgdisk -i "$2" "$1" | awk '/^First sector/{print $3}'; }
part_end()   { sgdisk -i "$2" "$1" | awk '/^Last sector/{print $3}'; }

# extract IMG N OUT: copies partition N into its own file.
extract() {
    local s e
    s=$(part_start "$1" "$2"); e=$(part_end "$1" "$2")
    dd if="$1" of="$3" bs=512 skip="$s" count=$((e - s + 1)) status=none
}

# fsck_clean FILE: fsck.fat -n finds nothing at all to fix.
fsck_clean() {
    local out rc
    out=$(fsck.fat -n "$1" 2>&1); rc=$?
    local extra
    extra=$(printf '%s\n' "$out" | grep -v -e '^fsck.fat ' -e ' files, .* clusters$' || true)
    if [ $rc -ne 0 ] || [ -n "$extra" ]; then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

# patch FILE OFFSET HEXBYTES: writes bytes at OFFSET.
patch() {
    python3 - "$@" <<'PY'
import sys
f, off, hx = sys.argv[1], int(sys.argv[2], 0), bytes.fromhex(sys.argv[3])
with open(f, 'r+b') as fh:
    fh.seek(off); fh.write(hx)
PY
}

# expect_error CMD...: the command must fail and say error=... reason=...
expect_error() {
    local want=$1; shift
    local out
    if out=$("$@" 2>&1); then
        fail "expected failure ($want) from: $* -- got: $out"
    fi
    printf '%s\n' "$out" | grep -q -- "$want" || fail "expected '$want' from: $* -- got: $out"
}
