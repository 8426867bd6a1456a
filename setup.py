"""Builds the Go shared library into the package and tags the wheel for the
platform (py3-none-<platform>): the library is native code, but it links
only libc and is loaded through ctypes, so one wheel serves every CPython 3.

Cross builds (scripts/build-wheels.sh): GOARCH and CC (a zig cc targeting an
old glibc) come from the environment and go build uses them; the platform
tag comes from bdist_wheel's --plat-name.

Metadata lives in pyproject.toml.
"""

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
LIBNAME = {"darwin": "libkerasncp.dylib", "win32": "kerasncp.dll"}.get(sys.platform, "libkerasncp.so")


def build_library(dest_dir: str) -> None:
    """Runs scripts/build-lib.sh-equivalent go build into dest_dir."""
    go = shutil.which("go")
    if go is None:
        raise SystemExit("kerasncp-go: building from source needs the Go toolchain (go >= 1.26) on PATH: "
                         "install Go from https://go.dev/dl/, or install a prebuilt wheel")
    os.makedirs(dest_dir, exist_ok=True)
    out = os.path.join(dest_dir, LIBNAME)
    env = dict(os.environ, CGO_ENABLED="1")
    cmd = [go, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", out, "./capi"]
    print("kerasncp-go:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=HERE, env=env, check=True)
    header = os.path.splitext(out)[0] + ".h"
    if os.path.exists(header):  # cgo's generated header; ours is capi/kerasncp.h
        os.remove(header)
    shutil.copy(os.path.join(HERE, "capi", "kerasncp.h"), os.path.join(dest_dir, "kerasncp.h"))


class BuildPyWithGo(build_py):
    def run(self):
        super().run()
        build_library(os.path.join(self.build_lib, "kerasncp_go", "_native"))


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithGo, "bdist_wheel": PlatformWheel}, distclass=BinaryDistribution)
