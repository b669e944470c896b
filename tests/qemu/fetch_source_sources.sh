#!/usr/bin/env bash
# Checks how scripts/fetch-source.sh derives its private deb-src entries
# from a machine's apt sources (deb822 stanzas and one-line entries),
# without touching apt or the network (TERN_FETCH_SOURCES_ONLY=1).
# usage: fetch_source_sources.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-fetch-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc/sources.list.d"

cat > "$tmp/etc/sources.list.d/main.sources" <<'SRC'
# a comment line
Types: deb
URIs: http://192.0.2.1/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://192.0.2.2/only-src
Suites: bookworm
Components: main

Types: deb deb-src
URIs: http://192.0.2.3/both
Suites: bookworm-security
Components: main contrib

Types: deb
Enabled: no
URIs: http://192.0.2.4/disabled
Suites: bookworm
Components: main
SRC
cat > "$tmp/etc/sources.list.d/other.list.disabled" <<'SRC'
deb http://192.0.2.5/ignored bookworm main
SRC
cat > "$tmp/etc/sources.list" <<'SRC'
deb [arch=amd64 signed-by=/k.gpg] http://198.51.100.1/debian bookworm main
# deb http://198.51.100.2/commented bookworm main
deb-src http://198.51.100.3/src bookworm main
   deb	http://198.51.100.4/indented bookworm main
SRC

out=$(TERN_APT_ETC="$tmp/etc" TERN_FETCH_SOURCES_ONLY=1 \
    "$src/scripts/fetch-source.sh" musl "$tmp/build/sources/musl")
echo "$out"

expect() { grep -qxF -- "$1" <<<"$out" || fail "missing line: $1"; }
refuse() { ! grep -qF -- "$1" <<<"$out" || fail "unexpected: $1"; }

expect 'deb-src [arch=amd64 signed-by=/k.gpg] http://198.51.100.1/debian bookworm main'
expect 'deb-src http://198.51.100.4/indented bookworm main'
refuse '198.51.100.2'
refuse '198.51.100.3'        # was deb-src already: not a deb entry
expect 'URIs: http://192.0.2.1/debian'
expect 'Suites: bookworm bookworm-updates'
expect 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
expect 'URIs: http://192.0.2.3/both'
refuse '192.0.2.2'           # deb-src-only stanza: no deb to derive from
refuse '192.0.2.4'           # Enabled: no
refuse '192.0.2.5'           # not a .sources file
[ "$(grep -c '^Types: deb-src$' <<<"$out")" -eq 2 ] || fail "expected exactly 2 deb-src stanzas"
grep -q '^Types: deb$' <<<"$out" && fail "a stanza kept Types: deb"
[ ! -e "$tmp/build/sources/musl" ] || fail "sources-only mode unpacked something"
echo "PASS"
