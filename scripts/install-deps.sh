#!/usr/bin/env bash
# Installs the Debian packages Tern needs to build and test, and nothing
# that is already there. Idempotent; says what it installs. Runs apt-get
# directly as root, through sudo otherwise.
#
# usage: scripts/install-deps.sh [build|test]   (default: test, which is a superset)
set -euo pipefail

want=${1:-test}

# Building both backends.
build_pkgs=(
    build-essential meson ninja-build pkg-config
    clang lld llvm
    libuv1-dev libcmocka-dev
    libslirp-dev libglib2.0-dev
    dpkg-dev xz-utils
    libmbedtls-dev libcjson-dev
)
# Running every test suite: QEMU + OVMF, referees and peers.
test_pkgs=(
    qemu-system-x86 ovmf
    libclang-rt-14-dev
    curl iproute2 procps
    tshark python3-scapy dnsmasq-base iputils-ping socat busybox
    gdisk dosfstools mtools python3
    python3-h11 openssl wrk slowhttptest hping3 nginx
    linux-perf
)

pkgs=("${build_pkgs[@]}")
[ "$want" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#pkgs[@]} packages for '$want' are present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: done"
