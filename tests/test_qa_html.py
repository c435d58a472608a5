"""The HTML report is one self-contained file that renders offline in a browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

pytest.importorskip("lightgbm", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
pytest.importorskip("plotly", reason="the QA extra is not installed: pip install 'lookalike[qa]'")

from lookalike.qa import report  # noqa: E402
from test_qa_small import make_frame  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "report.html"
    report(make_frame(300, 2), make_frame(400, 1), make_frame(300, 3), target="member", out=out, title="<Tiny> & co")
    return out


def test_no_network_references(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src\s*=\s*[\"']?https?://", text, re.I)
    assert not re.search(r"<link[^>]+href\s*=\s*[\"']?https?://", text, re.I)
    assert not re.search(r"@import\s+(url\()?[\"']?https?://", text, re.I)
    assert "<title>&lt;Tiny&gt; &amp; co</title>" in text
    # plotly.js is inlined exactly once, however many figures there are
    assert text.count("Plotly=") <= 1 and len(re.findall(r"\* plotly\.js v", text)) == 1


def test_file_is_readable_by_others(page):
    assert page.stat().st_mode & 0o044 == 0o044


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_renders_offline_in_chromium(page, tmp_path):
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,2000",
         f"--screenshot={shot}", page.resolve().as_uri()],
        capture_output=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    assert shot.exists() and shot.stat().st_size > 50_000  # a blank page is a few kB
