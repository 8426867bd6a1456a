#!/usr/bin/env bash
# Tests the aarch64 build on this x86_64 machine under qemu user-mode
# emulation:
#  1. the Go tests of core/ (core/cfc included), wiring/ and npz/, built
#     for GOARCH=arm64 and run through qemu-aarch64;
#  2. the aarch64 wheel (WHEEL, or built by scripts/build-wheels.sh)
#     installed with pip into a venv of an aarch64 Debian root (debootstrap,
#     Debian's python3 and python3-numpy), and a forward/backward parity
#     check of the LTC, its stepper and the CfC, float32 and float64,
#     against the same computation on x86_64 (tests_py/arm64_parity.py,
#     reference made in the same run by the in-tree library).
#
#   bash scripts/test-arm64.sh [WHEEL]
#
# Needs root (debootstrap, chroot), qemu-user-static, binfmt-support and
# debootstrap from Debian (installed with apt-get when missing) and Debian's
# mirror for the first run; the root is kept in $KNCP_ARM64_ROOT (default
# ~/.cache/kerasncp-go/arm64-root). The first run takes about 15 minutes
# (the root's second stage runs emulated), later ones a few minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
root="${KNCP_ARM64_ROOT:-$HOME/.cache/kerasncp-go/arm64-root}"
hostpy="${KNCP_PYTHON:-$HOME/.cache/kerasncp-go/venv/bin/python}"
[ -x "$hostpy" ] || hostpy=python3

if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support debootstrap >/dev/null
fi

echo "== 1. Go tests for arm64 under qemu-aarch64"
GOARCH=arm64 CGO_ENABLED=0 go test -count=1 -exec qemu-aarch64-static ./core/... ./wiring/... ./npz/...

echo "== 2. the aarch64 wheel in an aarch64 Python"
# chroot runs aarch64 programs through binfmt_misc.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
if [ ! -x "$root/usr/bin/python3" ] || [ ! -e "$root/.kncp-ready" ]; then
    rm -rf "$root"
    debootstrap --foreign --arch=arm64 --variant=minbase \
        --include=python3,python3-numpy,python3-venv,python3-pip bookworm "$root" http://deb.debian.org/debian
    cp /usr/bin/qemu-aarch64-static "$root/usr/bin/"
    chroot "$root" /debootstrap/debootstrap --second-stage
    touch "$root/.kncp-ready"
fi
wheel="${1:-}"
if [ -z "$wheel" ]; then
    tmp="$(mktemp -d)"
    bash scripts/build-wheels.sh "$tmp" >/dev/null
    wheel="$(ls "$tmp"/kerasncp_go-*-manylinux_*_aarch64.whl)"
fi
echo "wheel: $(basename "$wheel")"
work="$root/opt/kncp"
rm -rf "$work"
mkdir -p "$work"
cp "$wheel" "$work/"
cp tests_py/arm64_parity.py "$work/"
bash scripts/build-lib.sh >/dev/null
PYTHONPATH="$here/python" "$hostpy" tests_py/arm64_parity.py make "$work/x86_64.npz"
chroot "$root" /bin/sh -ec "
    cd /opt/kncp
    python3 -m venv --system-site-packages venv
    venv/bin/pip install -q --no-deps --no-index ./$(basename "$wheel")
    echo \"aarch64 python: \$(venv/bin/python -c 'import platform, sys; print(platform.machine(), sys.version.split()[0])')\"
    venv/bin/python -c 'import kerasncp_go, numpy; print(\"kerasncp_go\", kerasncp_go.library_version(), \"numpy\", numpy.__version__, \"from\", kerasncp_go.__file__)'
    venv/bin/python arm64_parity.py check x86_64.npz
"
