#!/usr/bin/env bash
# Fetches a Debian source package and unpacks its upstream tarball, without
# touching the system's apt configuration and without naming any host: the
# deb-src entries are derived at run time from the machine's own `deb`
# entries (deb822 stanzas in /etc/apt/sources.list.d/*.sources and one-line
# entries in /etc/apt/sources.list), written into a private apt directory
# next to DESTDIR, and apt-get runs with its lists, cache and source parts
# pointed there.
#
# usage: scripts/fetch-source.sh PKG DESTDIR
#   Unpacks PKG's .orig.tar.* into DESTDIR (its top directory stripped) and
#   writes DESTDIR/.tern-source with the version. Does nothing when that
#   stamp already exists (idempotent). Needs no stdin; works as root or not.
#
# For tests: TERN_APT_ETC (default /etc/apt) is where the system's sources
# are read; with TERN_FETCH_SOURCES_ONLY=1 the script writes the derived
# deb-src sources, prints them and stops before running apt-get.
set -euo pipefail
apt_etc=${TERN_APT_ETC:-/etc/apt}

[ $# -eq 2 ] || { echo "usage: $0 PKG DESTDIR" >&2; exit 2; }
pkg=$1
dest=$2

if [ -f "$dest/.tern-source" ]; then
    exit 0
fi

work=$(dirname "$dest")/.apt-private
mkdir -p "$work/sources.list.d" "$work/lists/partial" "$work/cache/archives/partial"
: > "$work/sources.list"
rm -f "$work/sources.list.d/"*.sources

# deb822 stanzas: keep each stanza whose Types include "deb", as deb-src.
n=0
for f in "$apt_etc"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    awk '
        function flush() { if (keep && enabled) printf "%s\n", stanza; stanza = ""; keep = 0; enabled = 1 }
        BEGIN { enabled = 1 }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]*#/ { next }
        tolower($1) == "types:" {
            keep = 0
            for (i = 2; i <= NF; i++) if ($i == "deb") keep = 1
            stanza = stanza "Types: deb-src\n"
            next
        }
        tolower($1) == "enabled:" && tolower($2) == "no" { enabled = 0 }
        { stanza = stanza $0 "\n" }
        END { flush() }
    ' "$f" > "$work/sources.list.d/system-$n.sources"
done
# One-line entries: "deb [opts] uri suite comps" -> "deb-src ...".
if [ -f "$apt_etc/sources.list" ]; then
    sed -n 's/^[ \t]*deb[ \t][ \t]*/deb-src /p' "$apt_etc/sources.list" > "$work/sources.list"
fi

if [ "${TERN_FETCH_SOURCES_ONLY:-0}" = 1 ]; then
    cat "$work/sources.list" "$work/sources.list.d/"*.sources 2>/dev/null || true
    exit 0
fi

apt_opts=(
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=$work/sources.list.d"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "Debug::NoLocking=true"
    -o "APT::Sandbox::User=$(id -un)"
)

echo "fetch-source: updating private source lists for $pkg"
apt-get "${apt_opts[@]}" -q update </dev/null >"$work/update.log" 2>&1 ||
    { cat "$work/update.log" >&2; echo "fetch-source: apt-get update failed" >&2; exit 1; }

tmp=$(mktemp -d "$(dirname "$dest")/.fetch-$pkg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get "${apt_opts[@]}" -q source --download-only "$pkg" </dev/null) ||
    { echo "fetch-source: apt-get source $pkg failed" >&2; exit 1; }

shopt -s nullglob
origs=()
for f in "$tmp"/*.orig.tar.*; do
    case $f in *.asc) ;; *) origs+=("$f") ;; esac
done
[ ${#origs[@]} -eq 1 ] || { echo "fetch-source: expected one .orig.tar.* for $pkg, found ${#origs[@]}" >&2; exit 1; }
dscs=("$tmp"/*.dsc)
version=$(sed -n 's/^Version: //p' "${dscs[0]}" | head -n1)

rm -rf "$dest.partial"
mkdir -p "$dest.partial"
tar -xf "${origs[0]}" -C "$dest.partial" --strip-components=1
echo "$pkg $version" > "$dest.partial/.tern-source"
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "fetch-source: $pkg $version unpacked into $dest"
