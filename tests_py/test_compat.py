"""python -m kerasncp_go.compat runs an unmodified keras-ncp script on the
Go kernels."""

import os
import subprocess
import sys
import textwrap

import pytest


def test_compat_redirects_kerasncp(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        import torch
        import kerasncp as kncp
        from kerasncp.torch import LTCCell

        wiring = kncp.wirings.NCP(6, 4, 2, 3, 2, 3, 2)
        cell = LTCCell(wiring, in_features=3)
        y, h = cell(torch.randn(5, 3), torch.zeros(5, 12))
        print(type(cell).__module__, kncp.__name__, tuple(y.shape))
    """))
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["kerasncp_go.torch", "kerasncp_go", "(5,", "2)"]


def test_compat_ncps_and_missing_parts(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import ncps.wirings as w\nprint(type(w.AutoNCP(10, 2)).__module__)\nimport ncps.no_such_part\n")
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", str(script)], capture_output=True,
                         text=True)
    assert out.stdout.strip() == "kerasncp_go.wirings"
    assert out.returncode != 0 and "ncps.no_such_part has no kerasncp-go counterpart" in out.stderr


def test_compat_runs_a_script_as_python_would(tmp_path):
    """The script's folder is on sys.path wherever it runs from, spawned
    children see kerasncp_go too, and a missing script is a one-line error."""
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    script = tmp_path / "main.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp
        import sys

        import helper
        import kerasncp


        def child(q):
            import kerasncp.wirings
            q.put((kerasncp.__name__, type(kerasncp.wirings.NCP(3, 2, 1, 1, 1, 1, 1)).__module__))


        if __name__ == "__main__":
            ctx = mp.get_context("spawn")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            print(helper.VALUE, kerasncp.__name__, *q.get(timeout=120), sys.argv[1:])
            p.join()
    """))
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", str(script), "a", "b"], capture_output=True,
                         text=True, cwd="/", timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["42", "kerasncp_go", "kerasncp_go", "kerasncp_go.wirings", "['a',", "'b']"]
    # A folder with __main__.py runs as python runs it.
    app = tmp_path / "app"
    app.mkdir()
    (app / "util.py").write_text("NAME = 'app'\n")
    (app / "__main__.py").write_text("import util, kerasncp\nprint(util.NAME, kerasncp.__name__)\n")
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", str(app)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["app", "kerasncp_go"], out.stderr
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", str(tmp_path / "nope.py")], capture_output=True,
                         text=True)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "can't open file" in out.stderr


def test_compat_reference_module_paths(tmp_path):
    script = tmp_path / "deep.py"
    script.write_text(textwrap.dedent("""
        from kerasncp.torch.ltc_cell import LTCCell
        from kerasncp.wirings.wirings import NCP
        from ncps.torch.ltc import LTC
        from ncps.wirings import AutoNCP
        print(LTCCell.__module__, NCP.__module__, LTC.__module__, AutoNCP.__module__)
        from ncps.torch.cfc import CfC
        from ncps.torch.cfc_cell import CfCCell
        from ncps.torch.wired_cfc_cell import WiredCfCCell
        from ncps.torch.lstm import LSTMCell
        from kerasncp.torch.experimental import CfC as CfC210
        from kerasncp.torch.experimental.cfc import LSTMCell as LSTM210
        print(CfC.__module__, CfCCell.__module__, WiredCfCCell.__module__, LSTMCell.__module__, CfC210.__module__,
              LSTM210 is LSTMCell)
    """))
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", str(script)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.strip().splitlines()
    assert first.split() == ["kerasncp_go.torch", "kerasncp_go.wirings", "kerasncp_go.torch", "kerasncp_go.wirings"]
    assert second.split() == ["kerasncp_go.torch"] * 4 + ["kerasncp_go.torch.experimental", "True"]


@pytest.mark.parametrize("legacy", [True, False])
def test_compat_tf_cfc_names(tmp_path, legacy):
    """ncps.tf's CfC family and keras-ncp 2.1.0's tf.experimental resolve
    to kerasncp_go's: tf-keras layers under TF_USE_LEGACY_KERAS=1, the
    Keras 3 ones otherwise."""
    script = tmp_path / "tf_cfc.py"
    script.write_text(textwrap.dedent("""
        from ncps.tf import CfC, CfCCell, WiredCfCCell
        from kerasncp.tf.experimental import CfC as XCfC, CfCCell as XCell, MixedMemoryRNN
        print(CfC.__module__, CfCCell.__module__, WiredCfCCell.__module__)
        print(XCell is CfCCell, issubclass(XCfC, CfC), XCfC.__module__, MixedMemoryRNN.__module__)
    """))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_USE_LEGACY_KERAS", None)
    env.pop("KERAS_BACKEND", None)
    if legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", str(script)], capture_output=True,
                         text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    first, second = out.stdout.strip().splitlines()[-2:]
    pkg = "kerasncp_go.tf" if legacy else "kerasncp_go.keras"
    assert first.split() == [f"{pkg}.cfc", f"{pkg}.cfc_cell", f"{pkg}.{'cfc_cell' if legacy else 'wired_cfc_cell'}"]
    assert second.split() == ["True", "True", "kerasncp_go.tf.experimental", "kerasncp_go.tf.mixed_memory"]
