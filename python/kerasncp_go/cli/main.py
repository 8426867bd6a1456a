"""The entry point of the ``kerasncp-go`` program: parse, run, and turn
errors into one line on stderr."""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

from .._lib import NCPError
from .parser import PROG, build_parser

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the program with argv (default: sys.argv[1:]) and returns the
    exit status: 0 on success, 1 for a bad input or failure (one line on
    stderr), 2 for a command-line syntax error, 130 when interrupted."""
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.subcommand is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return a.func(a) or 0
    except KeyboardInterrupt:
        print(f"{PROG} {a.subcommand}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError as e:
        sys.stdout.flush()
        print(f"{PROG} {a.subcommand}: error: out of memory: {_one_line(e)}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, NCPError, RecursionError) as e:
        sys.stdout.flush()
        print(f"{PROG} {a.subcommand}: error: {_one_line(e)}", file=sys.stderr)
        return 1


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror and e.filename and not str(e).startswith("cannot"):
        msg = f"{e.filename}: {e.strerror}"
    else:
        msg = str(e) or type(e).__name__
    return " ".join(msg.split())
