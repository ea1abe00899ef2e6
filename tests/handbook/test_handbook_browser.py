"""The handbook opened in a real headless browser (Debian's chromium) with every network request refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RXPOLICY = str(Path(sys.executable).with_name("rxpolicy"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (`make test` installs it as root)")
def test_a_page_renders_from_disk_with_no_network(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    out = tmp_path / "site"
    subprocess.run([RXPOLICY, "doc", "asr", "--out", str(out), "--format", "html"], check=True, capture_output=True)
    page = out / "dispensing-period.html"
    # A proxy that does not exist: anything the page tried to fetch would fail; the page itself is a file.
    shown = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            "--proxy-server=http://127.0.0.1:9", f"--user-data-dir={tmp_path / 'profile'}",
                            "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True)
    dom = shown.stdout
    assert '<section class="rule" id="dispensing-period--chronic">' in dom
    assert "In all other cases a medicine is reimbursed for at most 1 month" in dom
    assert '<a href="index.html">' in dom
