"""Long regular series: the calendar grid is found from the data's shape, calendar and
seasonal-lag columns mean the same in training and continuation, generated dates stay on
the grid, the weekly pattern survives, and a series costs time linear in its length."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.qa import timeseries as ts
from lookalike.relational.frame import EventWindow, own_values, sort_children, training_frames
from lookalike.relational.layout import build_layouts
from lookalike.relational.spec import parse_tables, propose_keys

WEEK = np.array([1.0, 0.9, 0.9, 0.95, 1.1, 1.5, 0.7])  # Monday .. Sunday


def make_shops(n: int = 8, steps: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shops (big or small) with daily sales: a weekly pattern, noise, a few closed days,
    start dates spread over a month."""
    rng = np.random.default_rng(seed)
    shops = pd.DataFrame({"shop": np.arange(1, n + 1), "size": np.where(np.arange(n) % 2, "big", "small")})
    rows = []
    for sid, size in zip(shops["shop"], shops["size"]):
        days = pd.date_range(pd.Timestamp("2021-03-01") + pd.Timedelta(days=int(rng.integers(0, 30))), periods=steps)
        level = 1000 if size == "big" else 400
        v = level * WEEK[days.day_of_week] * np.exp(rng.normal(0, 0.04, steps))
        open_ = rng.random(steps) > 0.02
        rows += [(sid, d.strftime("%Y-%m-%d"), int(x)) for d, x, o in zip(days, v, open_) if o]
    return shops, pd.DataFrame(rows, columns=["shop", "day", "sales"])


def schema(shops: pd.DataFrame, sales: pd.DataFrame, order_by: str = "day") -> list[dict]:
    return [{"name": "shops", "data": shops, "primary_key": "shop"},
            {"name": "sales", "data": sales, "order_by": order_by,
             "foreign_keys": [{"column": "shop", "references": "shops", "context": True}]}]


def layouts_of(tables: list[dict]):
    specs, _ = parse_tables(tables)
    frames = {s.name: s.data for s in specs}
    propose_keys(specs, frames)
    return build_layouts(specs, frames), frames


def test_calendar_is_found_from_the_shape_of_the_dates():
    shops, sales = make_shops()
    lay = layouts_of(schema(shops, sales))[0]["sales"]
    cal = lay.calendar
    assert cal is not None and cal.frequency == "daily" and cal.step == 86_400
    assert cal.lags == [1, 7, 14]  # the day before, the week, its second cycle; 364 days is longer than these series
    assert (cal.profile, cal.cycles) == (7, 4)  # the last four weeks' mean: the shop's own weekly shape
    assert {"dow", "doy", "t"} <= set(cal.features) and "hour" not in cal.features
    assert {"__cal.dow", "season7.sales", "profile7.sales", f"roll{cal.window}.sales"} <= set(lay.context)
    # the column's name plays no part; irregular events get no calendar
    renamed = layouts_of(schema(shops, sales.rename(columns={"day": "x"}), "x"))[0]["sales"]
    assert renamed.calendar == cal
    rng = np.random.default_rng(1)
    irregular = sales.assign(day=(pd.Timestamp("2021-01-01") + pd.to_timedelta(
        np.cumsum(rng.integers(1, 40, len(sales))), unit="D")).strftime("%Y-%m-%d"))
    assert layouts_of(schema(shops, irregular))[0]["sales"].calendar is None
    hourly = sales.assign(day=(pd.Timestamp("2021-01-01") + pd.to_timedelta(np.arange(len(sales)), unit="h")))
    hcal = layouts_of(schema(shops, hourly))[0]["sales"].calendar
    assert hcal.frequency == "hourly" and hcal.features[:2] == ["hour", "dow"]
    assert hcal.lags == [1, 24, 48]  # a week is longer than two thirds of these series


def test_calendar_columns_mean_one_thing_in_training_and_continuation():
    """The context a continued history gives each subject's next event (its ring buffer)
    is the training frame's row for that event: calendar, seasonal lags, rolling level."""
    shops, sales = make_shops()
    layouts, frames = layouts_of(schema(shops, sales))
    lay = layouts["sales"]
    frame = training_frames(layouts, frames)[0]["sales"]
    rows = sort_children(lay, frames["sales"])
    subject = pd.factorize(rows["shop"])[0]
    last = np.r_[subject[1:] != subject[:-1], True]
    hist = own_values(lay, rows)
    hist["__gap"] = frame["__gap"].to_numpy()
    window = EventWindow(lay, hist[~last], subject[~last])
    window.series.set_anchor(subject[last], {"sales": frame.loc[last, "parent.__level.sales.sales"].to_numpy()})
    given = window.context(subject[last], frame["__pos"].to_numpy()[last])
    cols = [c for c in lay.context if c.startswith(("__cal.", "season", "profile", "roll", "dev", "prev1."))]
    assert given["season7.sales"].notna().all() and given["profile7.sales"].notna().all()
    pd.testing.assert_frame_equal(given[cols], frame.loc[last, cols].reset_index(drop=True), check_dtype=False)


def test_a_measure_is_learned_against_its_level_and_restored_exactly():
    """Sales are drawn as a ratio to the shop's rolling level (the first day: to the shop's
    own level, a column of its parent); inverting the training frame gives the sales back."""
    from lookalike.relational.series import restore_measures

    shops, sales = make_shops()
    layouts, frames = layouts_of(schema(shops, sales))
    lay = layouts["sales"]
    cal = lay.calendar
    assert cal.relative == {"sales": "log"} and cal.decimals == {"sales": 0}  # positive, right-skewed counts
    assert "__level.sales.sales" in layouts["shops"].model_columns  # drawn from the shop's attributes
    frame = training_frames(layouts, frames)[0]["sales"]
    level = frame.groupby("parent.size")["parent.__level.sales.sales"].mean()
    assert level["big"] > 2 * level["small"]
    assert frame["sales"].notna().sum() == shops.shape[0]  # the measure itself: only where there is no level yet
    drawn = frame[["rel.sales"]].assign(sales=np.nan)
    restore_measures(cal, drawn, frame, {"sales": frame["parent.__level.sales.sales"].to_numpy()})
    real = sort_children(lay, frames["sales"])["sales"].to_numpy(dtype=float)
    np.testing.assert_allclose(drawn["sales"].to_numpy(), real)


def test_a_young_series_leans_on_its_level():
    """The rolling level of a series' first steps counts the steps it does not have yet as
    the subject's level: the noise of a first draw does not become the level."""
    shops, sales = make_shops()
    layouts, frames = layouts_of(schema(shops, sales))
    frame = training_frames(layouts, frames)[0]["sales"]
    w = layouts["sales"].calendar.window
    second = frame["__pos"].to_numpy() == 1
    level = frame.loc[second, "parent.__level.sales.sales"].to_numpy()
    first = sort_children(layouts["sales"], frames["sales"]).groupby("shop")["sales"].first().to_numpy()
    np.testing.assert_allclose(frame.loc[second, f"roll{w}.sales"].to_numpy(), (first + (w - 1) * level) / w)


@pytest.fixture(scope="module")
def trained():
    shops, sales = make_shops()
    # eight shops: their two sizes would be rare categories (protected) without this
    g = lookalike.train(tables=schema(shops, sales), max_training_time=10, max_epochs=40, seed=0, holdout_share=0.0,
                        rare_category_protection=False, progress=False)
    return shops, sales, g


def test_generated_series_keep_the_grid_and_lengths(trained):
    shops, sales, g = trained
    res = g.sample(seed=1)
    out = res["sales"]
    checks = ts.calendar_checks(out, "shop", "day")
    assert checks["on_grid"] == 1 and checks["ordered"] == 1 and checks["unique"] == 1
    real_share = ts.calendar_checks(sales, "shop", "day")["one_step_share"]
    assert abs(checks["one_step_share"] - real_share) < 0.05
    lengths = out.groupby("shop").size()
    assert lengths.between(150, 230).all()
    # big shops stay big: each shop's level is drawn with it and its series follows it
    many = g.sample({"shops": 40}, seed=2)
    level = many["sales"].groupby("shop")["sales"].mean().rename("level").to_frame().join(
        many["shops"].set_index("shop"))
    by_size = level.groupby("size")["level"].median()
    assert by_size["big"] > 1.5 * by_size["small"], by_size
    # the weekly pattern (ACF at lag 7, the weekday profile) needs minutes of training:
    # benchmarks/timeseries.py measures it on favorita


def test_report_has_a_time_series_section(trained, tmp_path):
    shops, sales, g = trained
    from lookalike.relational.qa import relational_metrics

    syn = g.sample(seed=2)
    metrics = relational_metrics(g.layouts_, {"shops": shops, "sales": sales}, syn)
    series = metrics["tables"]["sales"]["series"]
    m = series["measures"]["sales"]
    assert series["lags"] == [1, 7, 14] and set(m["acf"]) == {"training", "synthetic"}
    assert m["acf"]["training"]["7"] > 0.5  # the weekly pattern of the real shops
    assert set(m["profile"]["training"]) == set(range(7)) and 0 <= m["value_accuracy"]["synthetic"] <= 1
    assert series["calendar"]["synthetic"]["on_grid"] == 1
    from lookalike.relational.html import render

    page = render(metrics, {})
    assert "Time series (daily" in page and "sales.sales" in page



def test_info_shows_the_series_grid(trained, tmp_path):
    import json

    from typer.testing import CliRunner

    from lookalike.cli import app

    shops, sales, g = trained
    g.save(tmp_path / "shops.lookalike")
    r = CliRunner().invoke(app, ["info", str(tmp_path / "shops.lookalike")])
    assert r.exit_code == 0, r.output
    tables = json.loads(r.output)["tables"]
    grid = tables["sales"]["series_grid"]
    assert grid["frequency"] == "daily" and grid["step"] == 86_400 and 7 in grid["lags"]
    assert "series_grid" not in tables["shops"]  # the subjects are no series


def test_continuation_is_linear_in_steps_and_reproducible(trained):
    shops, sales, g = trained
    given = {"shops": shops.head(2), "sales": sales[sales["shop"].isin(shops["shop"].head(2))]}
    times = {}
    for steps in (15, 150):
        times[steps] = float("inf")
        for _ in range(2):  # the faster of two: one run can meet a busy core (a CI run beside other jobs did)
            t0 = time.perf_counter()
            out = g.sample(continue_from=given, steps=steps, seed=3)["sales"]
            times[steps] = min(times[steps], time.perf_counter() - t0)
            assert len(out) == 2 * steps
    assert times[150] < 15 * times[15], times
    a = g.sample(continue_from=given, steps=10, seed=4)["sales"]
    b = g.sample(continue_from=given, steps=10, seed=4)["sales"]
    pd.testing.assert_frame_equal(a, b)
    days = pd.to_datetime(a["day"])
    last = pd.to_datetime(given["sales"].groupby("shop")["day"].max())
    first = days.groupby(a["shop"]).min()
    assert (first > last.reindex(first.index)).all()  # the continuation starts after the history
