"""The HTML report is one self-contained file that renders offline in a browser."""

from __future__ import annotations

import re
import shutil

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


# every drawn figure: how many traces plotly built and how many marks (bars, heatmap images) it drew
FIGURES_JS = """() => Array.from(document.querySelectorAll('.fig .js-plotly-plot')).map(el => ({
    traces: (el._fullData || []).length,
    marks: el.querySelectorAll('g.point, g.hm image, g.heatmaplayer image, path.js-line').length,
}))"""


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_renders_offline_in_chromium(page):
    """Opened from disk in a real browser: no request leaves the file, no script error,
    every figure of the file is drawn with data, and the sections and tables are there."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    source = page.read_text(encoding="utf-8")
    n_figures = source.count('<div class="fig">')
    assert n_figures >= 10  # per-column distributions, pairs, privacy, correlations
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 2000})
            errors, requests = [], []
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(page.resolve().as_uri(), wait_until="load")
            tab.wait_for_function("n => Array.from(document.querySelectorAll('.fig .js-plotly-plot'))"
                                  ".filter(el => el.querySelector('.main-svg')).length >= n", arg=n_figures)
            assert tab.title() == "<Tiny> & co"
            headings = tab.locator("h2").all_inner_texts()
            figures = tab.evaluate(FIGURES_JS)
            per_column = tab.locator("table", has_text="bivariate (mean)").first
            column_names = per_column.locator("tr:has(td) td:first-child").all_inner_texts()
        finally:
            browser.close()
    assert not errors, errors
    assert all(u.startswith("file:") for u in requests), requests
    for section in ("Summary", "Accuracy per column", "Univariate distributions", "Bivariate distributions",
                    "Privacy", "Discriminator", "ML utility", "Correlations"):
        assert section in headings, (section, headings)
    assert len(figures) == n_figures  # plotly drew every figure the file holds
    assert all(f["traces"] >= 1 and f["marks"] >= f["traces"] for f in figures), figures
    assert sorted(column_names) == sorted(make_frame(1, 0).columns)  # "Accuracy per column": one row each
