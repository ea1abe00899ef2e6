"""`rxpolicy lsp` as a command: what it says when the installation lacks pygls."""

from __future__ import annotations

import subprocess
import sys


def test_without_pygls_the_command_says_what_to_install() -> None:
    # pygls made unimportable, as in an installation without the `lsp` extra.
    done = subprocess.run([sys.executable, "-c", "import sys; sys.modules['pygls'] = None\n"
                           "from rxpolicy.cli import main; main(['lsp'])"], capture_output=True, text=True,
                          check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert "needs the Python package `pygls`" in done.stderr and "pip install 'rxpolicy[lsp]'" in done.stderr
    assert "Traceback" not in done.stderr
