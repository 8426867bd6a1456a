"""``python -m kerasncp_go.cli``: the kerasncp-go command-line program."""

import sys

from .main import main

sys.exit(main())
