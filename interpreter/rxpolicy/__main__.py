"""``rxpolicy`` (the console script) and ``python -m rxpolicy``: the command line, started quickly.

A fresh process spends most of its start-up importing: click, attrs (which writes and compiles the
methods of every attrs class as its module is imported), PyYAML and rxpolicy's own modules. Those
imports make tens of thousands of objects that live as long as the process, and the cyclic garbage
collector would walk them over and over while they are made (about 80 collections, 5–7 ms of a
`rxpolicy eval`) without ever finding garbage. So the collector is paused while the command line
and the command's own module are imported; what they made is then moved out of its sight
(:func:`gc.freeze`, so later collections in a long-running command such as ``serve`` do not walk it
either) and the collector is turned back on before the command runs.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (:func:`rxpolicy.cli.main`) with its imports made while the collector is paused."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    paused = gc.isenabled()
    gc.disable()
    try:
        from rxpolicy import cli

        cli.import_command(arguments)
    finally:
        if paused:
            gc.freeze()
            gc.enable()
    cli.main(arguments)


if __name__ == "__main__":
    main()
