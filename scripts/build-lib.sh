#!/usr/bin/env bash
# Builds libkerasncp.so into python/kerasncp_go/_native/ for in-tree use
# (tests, PYTHONPATH=python). pip install / pip wheel build it themselves.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$here/python/kerasncp_go/_native"
mkdir -p "$out"
cd "$here"
CGO_ENABLED=1 go build -buildmode=c-shared -trimpath -o "$out/libkerasncp.so" ./capi
rm -f "$out/libkerasncp.h"
cp capi/kerasncp.h "$out/kerasncp.h"
echo "$out/libkerasncp.so"
