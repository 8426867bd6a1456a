"""The README's code runs as written: every ```python block in a fresh
process (PYTHONPATH=python, the test venv's interpreter, so torch and
TensorFlow are there), the ```go block is examples/go/main.go, which builds,
vets and runs, and the ```c excerpt is part of examples/c/forward.c, which
compiles against the library scripts/build-lib.sh writes and runs.

Go and a C compiler are requirements of the project (the library is built
with them), so their absence is a failure here, not a skip."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text()
NATIVE = ROOT / "python" / "kerasncp_go" / "_native"


def _blocks(lang):
    return [m.group(1) for m in re.finditer(rf"^```{lang}\n(.*?)^```$", README, re.M | re.S)]


PYTHON_BLOCKS = _blocks("python")


def test_the_readme_has_its_examples():
    assert len(PYTHON_BLOCKS) >= 3 and len(_blocks("go")) == 1 and len(_blocks("c")) == 1


@pytest.mark.parametrize("i", range(len(PYTHON_BLOCKS)))
def test_python_block_runs(i, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_USE_LEGACY_KERAS", None)
    p = subprocess.run([sys.executable, "-c", PYTHON_BLOCKS[i]], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, f"README python block {i} failed:\n{PYTHON_BLOCKS[i]}\n{p.stderr[-4000:]}"


def _tool(name):
    path = shutil.which(name)
    assert path is not None, f"{name} is not on PATH (the project builds its library with it)"
    return path


def test_go_block_is_the_go_example_and_it_runs(tmp_path):
    (block,) = _blocks("go")
    assert block == (ROOT / "examples" / "go" / "main.go").read_text(), \
        "the README's Go block must be examples/go/main.go exactly"
    go = _tool("go")
    for cmd in ([go, "vet", "./examples/go"], [go, "build", "-o", str(tmp_path / "example"), "./examples/go"]):
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
    p = subprocess.run([str(tmp_path / "example")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "neurons" in p.stdout, p.stderr


def test_c_example_compiles_against_the_library_and_runs(tmp_path):
    (block,) = _blocks("c")
    source = ROOT / "examples" / "c" / "forward.c"
    want = [ln.strip() for ln in block.strip().splitlines()]
    have = [ln.strip() for ln in source.read_text().splitlines()]
    assert any(have[i:i + len(want)] == want for i in range(len(have))), \
        "the README's C block must be an excerpt of examples/c/forward.c (indentation aside)"
    lib = NATIVE / "libkerasncp.so"
    assert lib.exists() and (NATIVE / "kerasncp.h").exists(), "run scripts/build-lib.sh first"
    cc = _tool(os.environ.get("CC", "cc"))
    exe = tmp_path / "forward"
    p = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(NATIVE), str(source), "-L",
                        str(NATIVE), "-lkerasncp", "-lm", f"-Wl,-rpath,{NATIVE}", "-o", str(exe)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "a short x: code 1" in p.stdout and "x must have shape" in p.stdout, p.stdout
