"""Metric charts and compare in a real browser: overlaid runs, axis modes, zoom fetching the zoomed range
from the reduced-history endpoint, and compare's diff table and canvas plots (one request for the runs)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from _ui import client_for, open_page

from fluvial.entities import Metric

DRAWN = "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v)"


@pytest.fixture(scope="module")
def long_run(ui_server: Any, seeded: dict[str, Any]) -> str:
    """A run with a 20,000-step metric (more than any chart width), logged in batches."""
    client = client_for(ui_server)
    run = client.create_run(seeded["experiment"], run_name="long")
    for start in range(0, 20_000, 1000):
        client.log_batch(run.info.run_id, metrics=[Metric("wave", float((s % 1000) == 0) * 10 + s / 20_000, 1_700_000_000_000 + s, s)
                                                   for s in range(start, start + 1000)])
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_overlaid_chart_axes_and_log(page: Any, seeded: dict[str, Any]) -> None:
    runs = quote(json.dumps(seeded["children"][:3]))
    open_page(page, f"metric/loss?runs={runs}")
    legend = page.locator(".u-legend")
    for name in ("trial-0", "trial-1", "trial-2"):
        legend.get_by_text(name).wait_for()
    page.wait_for_function(DRAWN, arg=page.locator(".plot-box canvas").element_handle())
    page.get_by_label("X axis").select_option("relative")
    page.locator(".u-legend").get_by_text("seconds since run start").wait_for()
    page.get_by_label("X axis").select_option("wall")
    page.get_by_label("Log scale").check()
    page.get_by_label("Smoothing").fill("0.6")
    page.wait_for_function(DRAWN, arg=page.locator(".plot-box canvas").element_handle())
    page.get_by_label("Metric", exact=True).select_option("accuracy")
    page.wait_for_url("**/metric/accuracy?*")


def test_zoom_fetches_full_resolution_of_the_range(page: Any, long_run: str) -> None:
    open_page(page, f"metric/wave?runs={quote(json.dumps([long_run]))}")
    status = page.get_by_text("20,000 points, reduced to the chart's width")
    status.wait_for()
    over = page.locator(".u-over")
    box = over.bounding_box()
    with page.expect_request(lambda r: "get-history-reduced" in r.url and "start=" in r.url) as request:
        page.mouse.move(box["x"] + box["width"] * 0.50, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + 60, steps=5)
        page.mouse.up()
    query = parse_qs(urlsplit(request.value.url).query)
    start, end = float(query["start"][0]), float(query["end"][0])
    assert 9000 < start < end < 11000 and int(query["max_points"][0]) >= 300
    page.get_by_role("button", name="Reset zoom").wait_for()
    page.wait_for_function("() => /^\\d{2,3} points$/.test(document.querySelector('.chart-controls span.muted:last-child').textContent)")
    page.get_by_role("button", name="Reset zoom").click()
    status.wait_for()


def test_compare_diff_table_and_plots(page: Any, seeded: dict[str, Any]) -> None:
    ids = seeded["children"]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/ajax-api/" in r.url else None)
    open_page(page, f"compare-runs?runs={quote(json.dumps(ids))}&experiments={quote(json.dumps([seeded['experiment']]))}")
    page.get_by_role("heading", name=f"Comparing {len(ids)} runs").wait_for()
    assert sum("fluvial/ui/compare" in u for u in requests) == 1
    assert not any("runs/get" in u for u in requests)
    alpha = page.get_by_role("row", name="param alpha")
    assert alpha.locator("td.diff").count() == len(ids)  # every alpha differs
    page.get_by_label("Only rows that differ").check()
    assert page.get_by_role("row", name="param alpha").count() == 1
    for name in ("Parallel coordinates of", "Scatter of", "Box plot of"):
        canvas = page.get_by_role("img", name=name).first
        page.wait_for_function(DRAWN, arg=canvas.element_handle())
    page.get_by_label("Group by").select_option("param:depth")
    page.get_by_role("img", name="Box plot of metric:accuracy by param:depth").wait_for()
    page.get_by_role("group", name="Parallel coordinates columns").get_by_label("metric loss").check()
    page.get_by_role("img", name="Parallel coordinates of param:alpha, param:depth, metric:accuracy, metric:loss").wait_for()
    page.locator(".u-legend").get_by_text("trial-5").wait_for()
