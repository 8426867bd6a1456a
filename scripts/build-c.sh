#!/usr/bin/env bash
# Builds the C library for C and C++ programs into PREFIX (default:
# ./dist/c):
#   PREFIX/include/kerasncp.h
#   PREFIX/lib/libkerasncp.a          (c-archive: link it with -lpthread -lm)
#   PREFIX/lib/libkerasncp.so         (c-shared, soname libkerasncp.so)
#   PREFIX/lib/pkgconfig/kerasncp.pc  (shared: pkg-config --cflags --libs kerasncp)
#   PREFIX/lib/pkgconfig/kerasncp-static.pc (the archive: ... kerasncp-static)
# Both libraries link only libc (and libpthread, libdl, libm on old glibc).
# Extra go build flags may come in GOFLAGS; CC picks the C compiler.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${1:-$here/dist/c}"
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
prefix="$(cd "$prefix" && pwd)"
cd "$here"
export CGO_ENABLED=1
go build -buildmode=c-archive -trimpath -o "$prefix/lib/libkerasncp.a" ./capi
go build -buildmode=c-shared -trimpath -ldflags="-s -w -extldflags=-Wl,-soname,libkerasncp.so" \
    -o "$prefix/lib/libkerasncp.so" ./capi
rm -f "$prefix/lib/libkerasncp.h" # cgo's generated header; capi/kerasncp.h is the contract
cp capi/kerasncp.h "$prefix/include/kerasncp.h"
version="$(sed -n 's/^const Version = "\(.*\)"/\1/p' capi/abi/abi.go)"
for kind in shared static; do
    name=kerasncp; libs="-L\${libdir} -lkerasncp"; private="Libs.private: -lpthread -lm"
    if [ "$kind" = static ]; then
        name=kerasncp-static; libs="\${libdir}/libkerasncp.a -lpthread -ldl -lm"; private=""
    fi
    cat > "$prefix/lib/pkgconfig/$name.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $name
Description: kerasncp-go: Neural Circuit Policies (LTC, CfC) in Go, C ABI ($kind library)
Version: $version
Cflags: -I\${includedir}
Libs: $libs
$private
PC
done
echo "$prefix"
