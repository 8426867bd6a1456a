"""Run an unmodified keras-ncp (or ncps) script on the Go kernels.

    python -m kerasncp_go.compat script.py [args...]
    python -m kerasncp_go.compat --ncps script.py [args...]

makes ``import kerasncp`` (and ``kerasncp.wirings``, ``kerasncp.torch``,
``kerasncp.tf``, ``kerasncp.paddle``, ``kerasncp.datasets``) resolve to the
corresponding ``kerasncp_go`` modules, then runs the script as ``__main__``.
With ``--ncps``, ``import ncps`` (and ``ncps.wirings``, ``ncps.torch``,
``ncps.tf``, ``ncps.keras``, ``ncps.paddle``, ``ncps.datasets``) is
redirected too.

The script runs as ``python script.py`` would run it: its folder first on
sys.path, its arguments in sys.argv. Processes it starts with the spawn or
forkserver method are redirected too (a stand-in package on sys.path).

In Python code, :func:`install` does the same redirection (in this process).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys
import zipfile
from typing import Iterable

#: The reference's subpackages and their kerasncp-go counterparts (ncps.keras
#: is ncps's Keras 3 binding: kerasncp_go.keras, on every Keras backend).
_SUBMODULES = {"wirings": "wirings", "torch": "torch", "tf": "tf", "keras": "keras", "paddle": "paddle",
               "datasets": "datasets"}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)

    def find_spec(self, fullname, path=None, target=None):
        top, _, rest = fullname.partition(".")
        if top not in self.names:
            return None
        parts = rest.split(".") if rest else []
        if parts and parts[0] not in _SUBMODULES:
            raise ImportError(f"kerasncp_go.compat: {fullname} has no kerasncp-go counterpart "
                              f"(available: {', '.join(top + '.' + s for s in _SUBMODULES)})")
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = self._target(spec.name)
        if not hasattr(module, "__path__"):
            # kerasncp_go.wirings is a module where the reference has a
            # package: without a __path__ the import system would not look
            # for kerasncp.wirings.wirings at all.
            module.__path__ = []
        return module

    def _target(self, name):
        _, _, rest = name.partition(".")
        if not rest:
            return _top()
        parts = rest.split(".")
        package = "kerasncp_go." + _SUBMODULES[parts[0]]
        if len(parts) > 1:
            # The reference's modules inside a subpackage (ncps.torch.ltc,
            # kerasncp.wirings.wirings, ...) are that subpackage here, unless
            # a module of the same name exists.
            inner = package + "." + ".".join(parts[1:])
            try:
                if importlib.util.find_spec(inner) is not None:
                    return importlib.import_module(inner)
            except ModuleNotFoundError:
                pass
        module = importlib.import_module(package)
        if name.startswith("ncps.keras"):
            # ncps's saved .keras files name its classes "ncps>LTC", ...
            module.register_reference_names()
        return module

    def exec_module(self, module):
        pass


def _top():
    """kerasncp_go, with the datasets subpackage imported as the reference's
    ``__init__`` does (scripts reach it as ``kncp.datasets``)."""
    importlib.import_module("kerasncp_go.datasets")
    return importlib.import_module("kerasncp_go")


def install(ncps: bool = False) -> None:
    """Redirects ``kerasncp`` (and, with ncps=True, ``ncps``) imports to
    kerasncp_go. Modules already imported under those names are replaced."""
    _install(["kerasncp"] + (["ncps"] if ncps else []))


def _install(names) -> None:
    for n in list(sys.modules):
        if n.split(".")[0] in names:
            del sys.modules[n]
    sys.meta_path.insert(0, _Alias(names))


def _become(name: str) -> None:
    """What the stand-in package `name` runs when imported: redirect `name`
    and put kerasncp_go in its place."""
    if not any(isinstance(f, _Alias) and name in f.names for f in sys.meta_path):
        _install([name])
    sys.modules[name] = _top()


def _stand_in_paths(ncps: bool):
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_compat_paths")
    return [os.path.join(here, n) for n in (["kerasncp"] + (["ncps"] if ncps else []))]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ncps = False
    if argv and argv[0] == "--ncps":
        ncps = True
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0] + "\n\nusage: python -m kerasncp_go.compat [--ncps] script.py [args...]")
        return 0 if argv else 2
    script = argv[0]
    if not os.path.exists(script):
        print(f"python -m kerasncp_go.compat: can't open file {script!r}: no such file", file=sys.stderr)
        return 2
    install(ncps=ncps)
    # As `python script.py`: the script's folder (or the folder or zip file
    # holding __main__.py) first on sys.path, where -m put the working
    # directory; then the stand-ins that spawned children import.
    path = os.path.abspath(script)
    sys.path[0] = path if (os.path.isdir(path) or zipfile.is_zipfile(path)) else os.path.dirname(path)
    sys.path[1:1] = _stand_in_paths(ncps)
    sys.argv = argv
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
