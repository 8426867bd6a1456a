"""The README's code runs as written: every ```python block in a fresh
process (PYTHONPATH=python, the test venv's interpreter, so torch and
TensorFlow are there), each ```go block is one of the Go examples
(examples/go, examples/gostepper), which build, vet and run, and each ```c
excerpt is part of a C example: examples/c/forward.c compiles against the
library scripts/build-lib.sh writes and runs here, examples/c/stepper.c in
test_embedding.py.

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
    assert len(PYTHON_BLOCKS) >= 4 and len(_blocks("go")) == len(GO_EXAMPLES) and len(_blocks("c")) >= 2


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


GO_EXAMPLES = ["go", "gostepper"]  # in README order


@pytest.mark.parametrize("i", range(len(GO_EXAMPLES)))
def test_go_block_is_a_go_example_and_it_runs(i, tmp_path):
    name = GO_EXAMPLES[i]
    block = _blocks("go")[i]
    assert block == (ROOT / "examples" / name / "main.go").read_text(), \
        f"the README's Go block {i} must be examples/{name}/main.go exactly"
    go = _tool("go")
    pkg = f"./examples/{name}"
    for cmd in ([go, "vet", pkg], [go, "build", "-o", str(tmp_path / "example"), pkg]):
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
    p = subprocess.run([str(tmp_path / "example")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    if name == "go":
        assert "neurons" in p.stdout
        return
    # The Go stepper over NumpySource(0) prints what the NumPy cell with seed=0 computes.
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    script = """
import numpy as np
from kerasncp_go import LTCCell, wirings
st = LTCCell(wirings.NCP(12, 6, 1, 6, 4, 6, 6), in_features=32, seed=0).stepper()
for t in range(5):
    y = st.step(np.sin(0.3 * t + 0.7 * np.arange(32)).astype(np.float32))
    print(f"step {t}: y = {y[0]:.6f}")
"""
    want = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert p.stdout == want.stdout


def test_c_blocks_are_excerpts_of_the_c_examples():
    sources = {p.name: [ln.strip() for ln in p.read_text().splitlines()] for p in (ROOT / "examples" / "c").glob("*.c")}
    for block in _blocks("c"):
        want = [ln.strip() for ln in block.strip().splitlines()]
        assert any(have[i:i + len(want)] == want for have in sources.values() for i in range(len(have))), \
            f"this README C block is not an excerpt of examples/c/*.c (indentation aside):\n{block}"


def test_c_example_compiles_against_the_library_and_runs(tmp_path):
    source = ROOT / "examples" / "c" / "forward.c"
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
