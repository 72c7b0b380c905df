"""Runs table in a real browser: columns from the URL, sort, filter errors, time presets, nested runs,
group by, selection actions (delete/restore/tag/compare), and keyset scrolling through many runs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from _ui import client_for, open_page

MANY = 700


@pytest.fixture(scope="module")
def many(ui_server: Any, seeded: dict[str, Any]) -> str:
    """An experiment with 700 runs: the table needs three pages (100, then 500, then the rest)."""
    client = client_for(ui_server)
    exp = client.create_experiment("many-runs")
    for i in range(MANY):
        client.create_run(exp, run_name=f"bulk-{i:04d}", start_time=1_700_000_000_000 + i,
                          tags={"parity": "even" if i % 2 == 0 else "odd"})
    return exp


def names(page: Any) -> list[str]:
    return page.locator(".grid-row .namecell a").all_inner_texts()


def test_columns_sort_nested_and_group(page: Any, seeded: dict[str, Any]) -> None:
    exp = seeded["experiment"]
    open_page(page, f"experiments/{exp}?metrics={quote(json.dumps(['loss']))}&params={quote(json.dumps(['alpha']))}")
    page.get_by_role("link", name="sweep-parent").wait_for()
    assert page.get_by_role("columnheader", name="loss").count() == 1
    assert page.get_by_role("columnheader", name="alpha").count() == 1
    assert names(page) == ["sweep-parent"]  # children are nested under their parent, collapsed
    assert "7 runs" in page.locator(".count").inner_text()
    row = page.locator(".grid-row", has=page.get_by_role("link", name="sweep-parent"))
    assert "train.py @ 0123456" in row.inner_text() and "demo-model v1" in row.inner_text()
    page.get_by_role("button", name="Expand sweep-parent").click()
    page.get_by_role("link", name="trial-3").wait_for()
    assert len(names(page)) == 7

    # pick a tag column through the picker: it lands in the URL
    page.get_by_role("button", name="Tags (0/1)").click()
    page.get_by_role("group", name="Tags columns").get_by_label("stage").check()
    page.wait_for_url("**tags=*stage*")
    page.get_by_role("columnheader", name="stage").wait_for()

    # sort by a metric ascending (server-side); the parent (0.05) is not nested when sorting puts it anywhere
    page.get_by_title("Sort by loss").click()
    page.wait_for_url("**order=*loss*")
    page.get_by_title("Sort by loss").click()
    page.wait_for_url("**ASC*")
    page.get_by_role("columnheader", name="loss ▲").wait_for()

    page.get_by_label("Group by").select_option("param:depth")
    page.get_by_role("button", name="depth = 3").wait_for()
    page.get_by_role("button", name="depth = 3").click()
    page.get_by_role("link", name="trial-0").wait_for()


def test_filter_error_and_time_preset(page: Any, seeded: dict[str, Any]) -> None:
    open_page(page, f"experiments/{seeded['experiment']}")
    page.get_by_role("link", name="sweep-parent").wait_for()
    box = page.get_by_label("Filter runs (MLflow search syntax)")
    box.fill("metrics.loss <<< 1")
    box.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "INVALID_PARAMETER_VALUE" in alert.inner_text() and "metrics.loss" in alert.inner_text()
    page.problems.clear()  # the browser logs the 400 answer
    box.fill("params.alpha = 'sweep'")
    box.press("Enter")
    alert.wait_for(state="detached")
    page.wait_for_function("() => document.querySelectorAll('.grid-row').length === 1")
    assert names(page) == ["sweep-parent"]
    page.get_by_label("Start time").select_option("1h")
    page.wait_for_url("**time=1h*")
    page.get_by_role("link", name="sweep-parent").wait_for()  # created just now


def test_select_delete_restore_tag_compare(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    client = client_for(ui_server)
    open_page(page, f"experiments/{seeded['experiment']}")
    page.get_by_role("button", name="Expand sweep-parent").click()
    page.get_by_label("Select run trial-1").check()
    page.get_by_label("Select run trial-2").check()
    selection = page.get_by_role("group", name="Selected runs")
    selection.get_by_label("Tag key for selected runs").fill("reviewed")
    selection.get_by_label("Tag value for selected runs").fill("yes")
    selection.get_by_role("button", name="Tag").click()
    ids = [seeded["children"][1], seeded["children"][2]]
    page.wait_for_function("() => !document.querySelector('[aria-label=\"Selected runs\"]')")
    assert [client.get_run(i).data.tags.get("reviewed") for i in ids] == ["yes", "yes"]

    page.get_by_label("Select run trial-1").check()
    page.get_by_role("group", name="Selected runs").get_by_role("button", name="Delete").click()
    page.get_by_role("link", name="trial-1").wait_for(state="detached")
    assert client.get_run(ids[0]).info.lifecycle_stage == "deleted"
    page.get_by_label("Show deleted").check()
    page.get_by_label("Select run trial-1").check()
    page.get_by_role("group", name="Selected runs").get_by_role("button", name="Restore").click()
    page.wait_for_function("() => !document.querySelector('.grid-row.deleted')")
    assert client.get_run(ids[0]).info.lifecycle_stage == "active"

    page.get_by_label("Select run trial-1").check()
    page.get_by_label("Select run trial-2").check()
    page.get_by_role("link", name="Compare").click()
    page.wait_for_url("**compare-runs?runs=*")
    page.get_by_role("heading", name="Comparing 2 runs").wait_for()


def test_scrolls_through_keyset_pages_with_total(page: Any, many: str) -> None:
    open_page(page, f"experiments/{many}")
    page.get_by_role("link", name=f"bulk-{MANY - 1:04d}").wait_for()  # newest first
    assert f"{MANY} runs" in page.locator(".count").inner_text()
    rendered = page.locator(".grid-row").count()
    assert rendered < 100, f"{rendered} rows in the DOM: rendering is not windowed"
    grid = page.get_by_role("table", name="Runs")
    for _ in range(40):  # bounded: scroll to the bottom until the oldest run shows
        grid.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        if page.get_by_role("link", name="bulk-0000").count():
            break
        page.wait_for_timeout(150)
    page.get_by_role("link", name="bulk-0000").wait_for()
    assert page.locator(".grid-row").count() < 100


def test_hostile_run_values_are_inert(page: Any, seeded: dict[str, Any]) -> None:
    open_page(page, f"experiments/{seeded['other']}?params={quote(json.dumps(['p']))}&tags={quote(json.dumps(['note']))}")
    page.get_by_role("link", name='<img src=x onerror="window.__xss=1">').wait_for()
    assert page.locator(".grid img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_runs_of_several_experiments(page: Any, seeded: dict[str, Any]) -> None:
    exps = quote(json.dumps([seeded["experiment"], seeded["other"]]))
    open_page(page, f"compare-experiments?experiments={exps}")
    page.get_by_role("columnheader", name="Experiment").wait_for()
    page.get_by_role("link", name="sweep-parent").wait_for()
    row = page.locator(".grid-row", has=page.get_by_role("link", name='<img src=x onerror="window.__xss=1">'))
    assert "hostile" in row.inner_text()
    assert "8 runs" in page.locator(".count").inner_text()


def test_chart_view_of_the_table(page: Any, seeded: dict[str, Any]) -> None:
    open_page(page, f"experiments/{seeded['experiment']}?metrics={quote(json.dumps(['loss']))}")
    page.get_by_role("link", name="sweep-parent").wait_for()
    page.get_by_label("Charts").check()
    page.wait_for_url("**charts=1*")
    legend = page.locator(".run-charts .u-legend")
    legend.get_by_text("trial-0").wait_for()
    legend.get_by_text("sweep-parent").wait_for()
    page.locator(".run-charts").get_by_role("link", name="loss").click()
    page.wait_for_url("**/metric/loss?*")


@pytest.fixture(scope="module")
def nested_far(ui_server: Any) -> str:
    """150 runs: the newest is a parent whose 3 children are the oldest (not on the first page of 100);
    146 others carry a tag ``grp`` (a/b, 73 each)."""
    client = client_for(ui_server)
    exp = client.create_experiment("nested-far")
    t0 = 1_700_000_000_000
    parent = client.create_run(exp, run_name="far-parent", start_time=t0 + 10_000).info.run_id
    for i in range(3):
        client.create_run(exp, run_name=f"far-child-{i}", start_time=t0 + i, tags={"mlflow.parentRunId": parent})
    for i in range(146):
        client.create_run(exp, run_name=f"filler-{i:03d}", start_time=t0 + 100 + i, tags={"grp": "ab"[i % 2]})
    return exp


def test_nesting_and_groups_cover_the_whole_result(page: Any, nested_far: str) -> None:
    open_page(page, f"experiments/{nested_far}")
    page.get_by_role("link", name="far-parent").wait_for()
    assert "150 runs" in page.locator(".count").inner_text()
    row = page.locator(".grid-row", has=page.get_by_role("link", name="far-parent"))
    row.get_by_text("(3)").wait_for()  # counted by the server: none of the children is loaded yet
    page.get_by_role("button", name="Expand far-parent").click()
    for i in range(3):
        page.get_by_role("link", name=f"far-child-{i}").wait_for()
    assert names(page)[:4] == ["far-parent", "far-child-2", "far-child-1", "far-child-0"]

    page.get_by_label("Group by").select_option("tag:grp")
    page.get_by_role("button", name="grp = a").wait_for()
    groups = page.locator(".grid-row.group").all_inner_texts()
    assert [g.split("\n")[0].strip() for g in groups] == ["▸ grp = a (73)", "▸ grp = b (73)", "▸ grp = (none) (4)"]
    page.get_by_role("button", name="grp = (none)").click()
    for name in ("far-parent", "far-child-0", "far-child-1", "far-child-2"):
        page.get_by_role("link", name=name).wait_for()
    page.get_by_role("button", name="grp = a").click()
    page.get_by_role("link", name="filler-144").wait_for()
