"""python -m kerasncp_go.compat runs an unmodified keras-ncp script on the
Go kernels."""

import subprocess
import sys
import textwrap


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
    script.write_text("import ncps.wirings as w\nprint(type(w.AutoNCP(10, 2)).__module__)\nimport ncps.datasets\n")
    out = subprocess.run([sys.executable, "-m", "kerasncp_go.compat", "--ncps", str(script)], capture_output=True,
                         text=True)
    assert out.stdout.strip() == "kerasncp_go.wirings"
    assert out.returncode != 0 and "ncps.datasets has no kerasncp-go counterpart" in out.stderr
