"""The wheel: built by pip with Go, tagged for the platform, and usable on a
machine without Go."""

import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    # Build from a copy so that the work tree gets no build/ or egg-info.
    src = build / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "runs", "build", "dist", "*.egg-info",
                                                             "__pycache__", "_native", "testdata"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(src)], check=True)
    wheels = list(out.glob("kerasncp_go-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_is_platform_tagged_and_holds_the_library(wheel):
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert wheel.name.endswith(f"-py3-none-{plat}.whl"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert "kerasncp_go/_native/libkerasncp.so" in names
    assert "kerasncp_go/_native/kerasncp.h" in names
    assert "kerasncp_go/py.typed" in names
    for native in ("_tfop.c", "_xlaffi.c", "_hostops.h"):  # the native TensorFlow ops and XLA FFI handlers,
        assert f"kerasncp_go/keras/{native}" in names     # built on first use
    assert "kerasncp_go/_compat_paths/kerasncp/kerasncp/__init__.py" in names
    assert "kerasncp_go/_compat_paths/ncps/ncps/__init__.py" in names


def test_library_links_only_libc(wheel, tmp_path):
    zipfile.ZipFile(wheel).extract("kerasncp_go/_native/libkerasncp.so", tmp_path)
    out = subprocess.run(["ldd", str(tmp_path / "kerasncp_go/_native/libkerasncp.so")], capture_output=True,
                         text=True, check=True).stdout
    libs = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert libs <= {"linux-vdso.so.1", "libc.so.6", "/lib64/ld-linux-x86-64.so.2"}, libs


def test_wheel_installs_and_runs_without_go(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    script = """
import shutil, numpy as np
assert shutil.which("go") is None, "Go is on PATH"
import kerasncp_go as kg
from kerasncp_go import wirings
w = wirings.AutoNCP(16, 2)
cell = kg.LTCCell(w, in_features=3, seed=0)
y, h = cell.forward_sequence(np.ones((2, 5, 3), np.float32))
assert y.shape == (2, 5, 2) and np.isfinite(y).all()
print("ok", kg.library_version(), kg.__file__)
"""
    out = subprocess.run([str(py), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok") and str(venv) in out.stdout


def test_sdist_builds_the_library(tmp_path):
    # The source distribution carries every file go build needs for the
    # library (Go, assembly, C and the header), as MANIFEST.in lists them.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "runs", "build", "dist", "*.egg-info",
                                                             "__pycache__", "_native", "testdata"))
    subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path / "dist")], cwd=src, check=True,
                   capture_output=True)
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    shutil.unpack_archive(str(sdist), str(tmp_path / "unpacked"))
    (top,) = (tmp_path / "unpacked").iterdir()
    out = subprocess.run(["go", "build", "-buildmode=c-shared", "-o", str(tmp_path / "lib.so"), "./capi"], cwd=top,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
