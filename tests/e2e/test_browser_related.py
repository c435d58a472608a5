"""Related tables end to end in real headless Chromium (the same server and browser as
test_browser.py): upload a cdnow sample (300 users and their purchases), link the two
datasets, check the proposed key and set it by hand, train briefly while the progress per
table shows, generate, download the zip and open the related-tables QA report."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from conftest import shared_file
from test_browser import ARGS, CHROMIUM, server, shots, sync_api  # noqa: F401  (fixtures)


@pytest.fixture()
def cdnow_files(tmp_path):
    users = pd.read_csv(shared_file("cdnow", "users.csv.gz")).head(300)
    purchases = pd.read_csv(shared_file("cdnow", "purchases.csv.gz"))
    purchases = purchases[purchases["users_id"].isin(users["id"])]
    users.to_csv(tmp_path / "users.csv", index=False)
    purchases.to_csv(tmp_path / "purchases.csv", index=False)
    return tmp_path / "users.csv", tmp_path / "purchases.csv"


def test_link_train_generate_download_report_related_tables(server, shots, cdnow_files):  # noqa: F811
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.set_default_timeout(20_000)
            errors = []
            page.on("console", lambda m: errors.append(f"{m.text} ({m.location.get('url')})")
                    if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            # upload both files through the drop zone's input
            for path in cdnow_files:
                page.goto(server + "/#/")
                page.get_by_text("Drop a CSV or Parquet file here").wait_for()
                page.set_input_files("#file", str(path))
                page.wait_for_selector("#settings")
            page.goto(server + "/#/")
            page.wait_for_selector("#link")
            assert "will appear here once the engine supports them" not in page.content()

            # link them: the engine proposes users.id and purchases.users_id -> users.id
            for name in ("users.csv", "purchases.csv"):
                page.locator("#link label", has_text=name).locator("input").check()
            page.click("#link button")
            page.wait_for_selector("#relations")
            assert "purchases.users_id → users.id" in page.locator("#relations").inner_text()
            purchases = page.locator(".schema-table[data-table=purchases]")
            assert purchases.locator(".proposed").count() == 1  # the foreign key was proposed

            # set the key by hand: drop the proposal, add it again as context, order by date
            purchases.locator("button[name=fk-remove]").click()
            assert purchases.locator("tr.fk").count() == 0
            purchases.locator("button[name=fk-add]").click()
            purchases.locator("select[name=fk-column]").select_option("users_id")
            purchases.locator("select[name=fk-references]").select_option("users")
            purchases.locator("input[name=fk-context]").check()
            purchases.locator("select[name=order]").select_option("date")
            page.click("#save-keys")
            page.wait_for_selector("#keys-status:text('Saved.')")
            purchases = page.locator(".schema-table[data-table=purchases]")
            assert purchases.locator(".proposed").count() == 0  # set by hand now
            assert purchases.locator("select[name=order]").input_value() == "date"
            assert "(context: each users row owns its purchases rows)" in page.locator("#relations").inner_text()
            page.screenshot(path=shots / "related-1-keys.png", full_page=True)

            # train briefly: the progress names each table
            page.fill("#rtime", "")
            page.fill("#repochs", "2")
            page.click("#train-schema")
            progress = page.wait_for_function(
                "() => { const t = document.querySelector('#table-progress'); return t && t.innerText }",
                timeout=60_000).json_value()
            assert "users" in progress and "purchases" in progress, progress
            assert any(state in progress for state in ("training", "done")), progress
            page.screenshot(path=shots / "related-2-progress.png")

            # the model page: sizes per subject table -> generate -> download the zip
            page.wait_for_selector("#generate", timeout=120_000)
            assert "rows of users (via users_id), ordered by date" in page.locator(".card").first.inner_text()
            page.fill("input[name=size][data-table=users]", "80")
            page.click("#gen")
            page.wait_for_selector("#outputs", timeout=90_000)
            with page.expect_download() as dl:
                page.click("#outputs a.dl-tables")
            with zipfile.ZipFile(io.BytesIO(open(dl.value.path(), "rb").read())) as z:
                assert sorted(z.namelist()) == ["purchases.csv", "users.csv"]
                users = pd.read_csv(z.open("users.csv"))
                bought = pd.read_csv(z.open("purchases.csv"))
            assert len(users) == 80 and users["id"].is_unique and len(bought) > 0
            assert bought["users_id"].isin(users["id"]).all()
            dates = pd.to_datetime(bought["date"])
            assert (dates.groupby(bought["users_id"]).diff().dropna() >= pd.Timedelta(0)).all()

            # the related-tables report in the report tab
            page.click("#outputs button[data-report]")
            page.wait_for_selector("iframe.report", timeout=90_000)
            assert "events per subject" in page.locator(".card").first.inner_text()
            frame = page.locator("iframe.report").element_handle().content_frame()
            frame.wait_for_load_state("load")
            headings = frame.locator("h2").all_inner_texts()
            assert headings == ["purchases", "Referential integrity"], headings
            assert "Every key is unique and new, and every foreign key resolves." in frame.locator("body").inner_text()
            assert frame.locator("h3", has_text="Events per subject").count() == 1
            page.screenshot(path=shots / "related-3-report.png")
        finally:
            browser.close()
    assert not errors, errors
