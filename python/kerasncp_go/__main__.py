"""``python -m kerasncp_go``: the kerasncp-go command-line program (see
:mod:`kerasncp_go.cli`)."""

import sys

from .cli import main

sys.exit(main())
