"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; no browser download): upload titanic, set training size and time, watch the
progress bar, generate, download the CSV, open the QA report. What the pages show is
checked (texts, table rows, the report's charts drawn with data, no script errors);
screenshots for a person to look at go to $LOOKALIKE_E2E_SHOTS or a tmp dir."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TITANIC = Path(__file__).resolve().parents[2] / "src" / "lookalike" / "examples" / "titanic.csv"
# every figure of the QA report: how many traces plotly built and how many marks (bars, heatmap images) it drew
FIGURES_JS = """() => Array.from(document.querySelectorAll('.fig .js-plotly-plot')).map(el => ({
    traces: (el._fullData || []).length,
    marks: el.querySelectorAll('g.point, g.hm image, g.heatmaplayer image, path.js-line').length,
}))"""

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright; "
                                                             "it drives the system Chromium, no browser download)")
pytest.importorskip("uvicorn", reason="the server extra is not installed")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture()
def server(tmp_path):
    """A real uvicorn server on a free loopback port, in a thread; stopped after the test."""
    import uvicorn

    from lookalike.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(tmp_path / "data"), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)


@contextlib.contextmanager
def uploaded(server: str, data: Path):
    """A headless page of the app with ``data`` uploaded (the settings form shown), and the
    list its script errors go to; the browser closes after."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            page.set_input_files("#file", str(data))
            page.wait_for_selector("#settings")
            yield page, errors
        finally:
            browser.close()


@pytest.fixture()
def shots(tmp_path):
    folder = Path(os.environ.get("LOOKALIKE_E2E_SHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_upload_train_generate_download_report(server, shots, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.set_default_timeout(20_000)
            errors = []  # script errors and console errors of the app and the report frame
            # (the browser's own request for /favicon.ico, which the app does not serve, is not the app's error)
            page.on("console", lambda m: errors.append(f"{m.text} ({m.location.get('url')})")
                    if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server)
            page.get_by_text("Drop a CSV or Parquet file here").wait_for()

            # upload (the drop zone's file input) -> preview, detected types, settings
            page.set_input_files("#file", str(TITANIC))
            page.wait_for_selector("#settings")
            assert page.locator("#columns tr").count() == 1 + len(pd.read_csv(TITANIC, nrows=1).columns)
            row = lambda col: page.locator("#columns tr").filter(has=page.locator("td", has_text=re.compile(f"^{col}$")))  # noqa: E731
            row("parch").locator("input[name=include]").uncheck()
            row("pclass").locator("select[name=kind]").select_option("categorical")
            page.fill("#size", "1000")
            page.fill("#time", "20")  # the budget counts from the start (reading, encoding): room for live epochs
            page.fill("#patience", "1000")  # train for the full budget, so the bar is seen moving
            page.fill("#seed", "1")
            page.screenshot(path=shots / "2-settings.png", full_page=True)

            # create -> live progress
            page.click("#create")
            page.wait_for_selector("#progress dt:text('Epoch')", timeout=60_000)
            page.screenshot(path=shots / "3-progress.png")
            assert "running" in page.locator("h1").inner_text()
            epoch = page.locator("#progress dt:text('Epoch') + dd").inner_text()
            assert re.fullmatch(r"\d+ of at most \d+", epoch), epoch  # a live epoch count

            # trained -> model page -> generate
            page.wait_for_selector("#generate", timeout=90_000)
            page.fill("#rows", "300")
            page.click("#gen")
            page.wait_for_selector("#outputs", timeout=60_000)
            with page.expect_download() as dl:
                page.click("#outputs a.dl-csv")
            csv = tmp_path / "synthetic.csv"
            dl.value.save_as(csv)
            df = pd.read_csv(csv)
            assert len(df) == 300 and "parch" not in df.columns and "survived" in df.columns

            # QA report tab
            page.click("#outputs button[data-report]")
            page.wait_for_selector("iframe.report", timeout=90_000)
            frame = page.locator("iframe.report").element_handle().content_frame()
            frame.wait_for_load_state("load")
            n_figures = frame.locator("div.fig").count()
            frame.wait_for_function("n => Array.from(document.querySelectorAll('.fig .js-plotly-plot'))"
                                    ".filter(el => el.querySelector('.main-svg')).length >= n", arg=n_figures)
            page.screenshot(path=shots / "4-report.png")
            assert "Accuracy" in page.locator(".card").first.inner_text()
            headings = frame.locator("h2").all_inner_texts()
            for section in ("Summary", "Accuracy per column", "Univariate distributions", "Privacy", "Discriminator"):
                assert section in headings, (section, headings)
            figures = frame.evaluate(FIGURES_JS)
            assert len(figures) == n_figures >= 5  # every chart of the report is drawn
            assert all(f["traces"] >= 1 and f["marks"] >= f["traces"] for f in figures), figures  # with data
            per_column = frame.locator("table", has_text="bivariate (mean)").first
            reported = set(per_column.locator("tr:has(td) td:first-child").all_inner_texts())
            assert reported == set(df.columns)  # one row per generated column, parch excluded

            # the dataset list, with the upload and its job history
            page.goto(server + "/#/")
            page.wait_for_selector("#datasets")
            assert "titanic.csv" in page.locator("#datasets").inner_text()
            page.screenshot(path=shots / "1-datasets.png", full_page=True)
        finally:
            browser.close()
    print(f"screenshots in {shots}")
    assert not errors, errors


def test_the_text_model_field_reaches_the_training_request(server, tmp_path):
    """The training form offers a pretrained text model folder with the text options, shown
    while a column is text; its value goes into the training request, and a folder that holds
    no model is refused there, naming the option."""
    import json

    data = tmp_path / "rooms.csv"
    pd.DataFrame({"kind": ["A", "B"] * 20, "title": [f"room {i} near the park" for i in range(40)]}).to_csv(
        data, index=False)
    folder = tmp_path / "no-model-here"
    with uploaded(server, data) as (page, errors):
        title = page.locator("#columns tr").filter(has=page.locator("td", has_text=re.compile("^title$")))
        title.locator("select[name=kind]").select_option("categorical")
        assert not page.locator("#textmodel").is_visible()  # no text column: no text options
        title.locator("select[name=kind]").select_option("text")
        assert page.get_by_label("Pretrained text model (local folder)").is_visible()
        page.fill("#textmodel", str(folder))
        page.fill("#time", "5")
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/train")) as sent:
            page.click("#create")
        options = json.loads(sent.value.post_data)["options"]
        assert options["text_model"] == str(folder) and options["types"]["title"] == "text"
        error = page.locator(".error").inner_text()
        assert error.startswith("text_model") and str(folder) in error  # the server's 400, shown
        assert "#/datasets/" in page.url  # no job was made
    assert not errors, errors


def test_the_model_page_names_the_columns_that_stopped_early(server, tmp_path):
    """A near-unique account number beside a category and an amount: its layers overfit
    from the first epochs and stop alone (training.HeadStopping); the model page says so."""
    import numpy as np

    rng = np.random.default_rng(0)
    kind = rng.choice(list("abcde"), 2000)
    amount = pd.Series(kind).map({"a": 1, "b": 5, "c": 10, "d": 20, "e": 50}).to_numpy() * rng.lognormal(0, 0.3, 2000)
    data = tmp_path / "orders.csv"
    pd.DataFrame({"kind": kind, "amount": amount.round(2), "account": rng.integers(10**7, 10**8, 2000)}).to_csv(
        data, index=False)
    with uploaded(server, data) as (page, errors):
        page.fill("#seed", "0")
        page.click("#create")
        page.wait_for_selector("#generate", timeout=90_000)
        facts = page.locator("dl.facts").inner_text()
        assert re.search(r"Stopped early\s+(\w+ \(epoch \d+\), )*account \(epoch \d+\)", facts), facts
    assert not errors, errors
