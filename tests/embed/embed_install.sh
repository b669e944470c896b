#!/bin/sh
# The library as an outside project sees it (docs/embedding.md):
#  1. configure this tree with every optional part disabled, build,
#     install into a temporary prefix;
#  2. build examples/minimal-backend/minimal.c and contract_refusal.c
#     OUTSIDE the tree with `pkg-config --cflags --libs tern-core` only,
#     run them and check what they print (the HTTP 200 and body fetched
#     from one instance by the other; every refusal);
#  3. a tiny meson project with this tree as subprojects/tern (a symlink)
#     that builds minimal.c with dependency('tern-core').
# usage: embed_install.sh SOURCE_ROOT WORK_PARENT
set -eu
src=$(cd "$1" && pwd)
work=$(mktemp -d "$2/embed_install.XXXXXX")
trap 'rm -rf "$work"' EXIT
off="-Dlinux_backend=disabled -Dapps=disabled -Dtools=disabled -Dtests=disabled -Dbench=disabled -Dtls=disabled"
fail() { echo "embed_install: FAIL: $*"; exit 1; }

echo "== core-only build, installed into $work/prefix"
# shellcheck disable=SC2086
meson setup "$work/build" "$src" $off --prefix="$work/prefix" --libdir=lib \
    -Dbuildtype=debugoptimized >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; fail "meson setup"; }
grep -qi "libuv\|slirp\|cmocka" "$work/build/meson-logs/meson-log.txt" &&
    fail "a core-only configure looked for libuv, libslirp or CMocka"
[ -d "$work/build/sources" ] && fail "a core-only configure fetched sources"
ninja -C "$work/build" >"$work/ninja.log" 2>&1 || { tail -40 "$work/ninja.log"; fail "ninja"; }
meson install -C "$work/build" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "meson install"; }
for f in lib/libtern-core.a lib/libtern-core.so.0 lib/pkgconfig/tern-core.pc \
         include/tern/os.h include/tern/platform.h include/tern/version.h; do
    [ -e "$work/prefix/$f" ] || fail "$f not installed"
done
ls "$work/prefix/include/tern" | grep -qv '\.h$' && fail "something other than headers in include/tern"
for h in $(cd "$src/core" && find . -name '*.h'); do
    [ -e "$work/prefix/include/tern/$(basename "$h")" ] && fail "core's private $h was installed"
done

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$work/prefix/lib"
flags=$(pkg-config --cflags --libs tern-core) || fail "pkg-config tern-core"
echo "pkg-config --cflags --libs tern-core: $flags"
mkdir "$work/outside"
cp "$src/examples/minimal-backend/minimal.c" "$src/tests/embed/contract_refusal.c" "$work/outside/"
cd "$work/outside"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror minimal.c $flags -o minimal || fail "building minimal.c"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror contract_refusal.c $flags -o contract_refusal ||
    fail "building contract_refusal.c"

echo "== minimal"
./minimal >minimal.out 2>&1 || { cat minimal.out; fail "minimal exited $?"; }
cat minimal.out
grep -q '^fetched [0-9]* bytes' minimal.out || fail "minimal fetched nothing"
grep -q '^HTTP/1.1 200 OK' minimal.out || fail "no HTTP 200 in what B fetched"
tail -n 2 minimal.out | grep -qx 'ok' || fail "the /healthz body is not 'ok'"
grep -q '^\[A\] TERN_BOOT_OK backend=minimal' minimal.out || fail "instance A did not boot"
grep -q '^\[B\] TERN_NET_UP .*192.0.2.2' minimal.out || fail "instance B has no address"

echo "== contract_refusal"
./contract_refusal >refusal.out 2>&1 || { cat refusal.out; fail "contract_refusal exited $?"; }
cat refusal.out
[ "$(grep -c '^PASS' refusal.out)" -eq 6 ] || fail "not every refusal case passed"

echo "== as a meson subproject"
mkdir -p "$work/sub/subprojects"
ln -s "$src" "$work/sub/subprojects/tern"
cp minimal.c "$work/sub/"
cat >"$work/sub/meson.build" <<'MESON'
project('outside', 'c', default_options: ['c_std=c11'])
tern_core = dependency('tern-core', fallback: ['tern', 'tern_core_dep'],
  default_options: ['linux_backend=disabled', 'apps=disabled', 'tools=disabled',
                    'tests=disabled', 'bench=disabled', 'tls=disabled', 'werror=false'])
executable('minimal', 'minimal.c', dependencies: tern_core)
MESON
unset PKG_CONFIG_PATH LD_LIBRARY_PATH
meson setup "$work/sub/build" "$work/sub" >"$work/sub.log" 2>&1 || { cat "$work/sub.log"; fail "subproject setup"; }
ninja -C "$work/sub/build" >>"$work/sub.log" 2>&1 || { tail -40 "$work/sub.log"; fail "subproject build"; }
"$work/sub/build/minimal" >sub.out 2>&1 || { cat sub.out; fail "subproject minimal exited $?"; }
grep -q '^HTTP/1.1 200 OK' sub.out || fail "the subproject build fetched no HTTP 200"
echo "embed_install: ok"
