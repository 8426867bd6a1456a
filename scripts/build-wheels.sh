#!/usr/bin/env bash
# Builds the sdist and the manylinux_2_17 wheels (x86_64 and aarch64) into
# OUTDIR on an x86_64 Linux machine, without Docker: Go cross-compiles the
# library, with zig (the ziglang package from PyPI) as cgo's C compiler
# targeting glibc 2.17. Each wheel is built from the sdist (which proves
# the sdist builds), then `auditwheel show` must report its manylinux tag.
#
#   bash scripts/build-wheels.sh OUTDIR
#
# Tools (ziglang, auditwheel, build, setuptools) live in a venv of their
# own, made on first use: $KNCP_WHEEL_TOOLS (default
# ~/.cache/kerasncp-go/wheel-tools). Needs Go on PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: build-wheels.sh OUTDIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
glibc=2.17
tools="${KNCP_WHEEL_TOOLS:-$HOME/.cache/kerasncp-go/wheel-tools}"
py="$tools/bin/python"
if ! "$py" -c "import ziglang, auditwheel, build, setuptools" 2>/dev/null; then
    python3 -m venv "$tools"
    "$py" -m pip install -q -U pip "setuptools>=77" wheel build ziglang auditwheel
fi
command -v go >/dev/null || { echo "build-wheels.sh: Go is not on PATH" >&2; exit 1; }

cd "$here"
# setuptools leaves python/kerasncp_go.egg-info behind, which would make pip
# believe the package is installed wherever PYTHONPATH=python (the tests).
trap 'rm -rf "$here/python/kerasncp_go.egg-info"' EXIT
rm -f "$out"/kerasncp_go-*.tar.gz "$out"/kerasncp_go-*.whl
log="$out/build.log"
: > "$log"
"$py" -m build --sdist --no-isolation -o "$out" . >>"$log" 2>&1 || { tail -20 "$log"; exit 1; }
sdist="$(ls "$out"/kerasncp_go-*.tar.gz)"
echo "sdist: $sdist"

for arch in x86_64 aarch64; do
    case $arch in x86_64) goarch=amd64 ;; aarch64) goarch=arm64 ;; esac
    tag="manylinux_${glibc/./_}_$arch"
    echo "== $tag"
    GOOS=linux GOARCH=$goarch CGO_ENABLED=1 CC="$py -m ziglang cc -target $arch-linux-gnu.$glibc" \
        "$py" -m build --wheel --no-isolation -C--build-option=--plat-name="$tag" -o "$out" "$sdist" >>"$log" 2>&1 || { tail -20 "$log"; exit 1; }
    whl="$(ls "$out"/kerasncp_go-*-py3-none-"$tag".whl)"
    report="$("$py" -m auditwheel show "$whl")"
    echo "$report" | tr -s '\n' ' ' | fold -s -w 100
    echo
    # auditwheel names the oldest policy the wheel satisfies; any glibc up
    # to ours confirms the tag (manylinux_2_5 is older than 2_17).
    found="$(echo "$report" | tr -s '\n' ' ' | sed -n 's/.*platform tag: "manylinux_\([0-9]*\)_\([0-9]*\)_'"$arch"'".*/\1 \2/p')"
    if [ -z "$found" ] || [ "${found% *}" -ne 2 ] || [ "${found#* }" -gt "${glibc#2.}" ]; then
        echo "build-wheels.sh: auditwheel does not confirm $tag for $whl" >&2
        exit 1
    fi
done
ls -l "$out"
