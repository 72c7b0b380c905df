"""MLflow 2.22.5's UI addresses (bookmarks and shared links) land on the matching fluvial page in a real
browser: the address is rewritten to fluvial's and the page shows what MLflow's would."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from _ui import client_for


def _hash(page: Any) -> str:
    return str(page.evaluate("decodeURIComponent(location.hash)"))


def test_metric_page_address(page: Any, seeded: dict[str, Any]) -> None:
    # what MLflow 2.x's Routes.getMetricPageRoute writes (the metric as a JSON string)
    runs = json.dumps(seeded["children"][:2])
    page.goto(f"/#/metric?runs={runs}&metric={quote(json.dumps('loss'))}&experiments={json.dumps([seeded['experiment']])}"
              f"&plot_metric_keys={quote(json.dumps(['loss']))}&plot_layout={{}}&x_axis=relative&y_axis_scale=log"
              "&line_smoothness=1&show_point=false&deselected_curves=[]&last_linear_y_axis_range=[]")
    page.get_by_role("heading", name="loss", exact=True).wait_for()
    page.locator(".u-legend").get_by_text("trial-1").wait_for()
    assert page.get_by_label("X axis").input_value() == "relative"
    assert page.get_by_label("Log scale").is_checked()
    assert _hash(page).startswith("#/metric/loss?")
    # the axes the user picks stay in the address; the experiment is one click away
    page.get_by_label("X axis").select_option("step")
    page.get_by_label("Log scale").uncheck()
    assert "x_axis=step" in _hash(page) and "y_axis_scale" not in _hash(page)
    page.get_by_role("link", name=f"Experiment {seeded['experiment']}").click()
    page.get_by_role("heading", name="demo-regression").wait_for()


def test_experiment_page_state_in_the_address(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    exp = seeded["experiment"]
    search = quote("params.depth = '4'")
    page.goto(f"/#/experiments/{exp}?searchFilter={search}"
              "&orderByKey=attributes.run_name&orderByAsc=true&startTime=ALL")
    page.get_by_role("link", name="trial-1").wait_for()
    names = page.locator(".grid-body a[href*='/runs/']").all_inner_texts()
    assert names == ["trial-1", "trial-4"]  # depth 4: trials 1 and 4, by name ascending
    assert page.get_by_label("Filter runs (MLflow search syntax)").input_value() == "params.depth = '4'"
    # the run page tabs and the "/s" search form of MLflow's experiment page
    page.goto(f"/#/experiments/{exp}/s?lifecycleFilter=Deleted")
    page.get_by_text("Show deleted (only)").wait_for()
    client = client_for(ui_server)
    victim = client.create_run(exp, run_name="deleted-for-bookmark")
    client.delete_run(victim.info.run_id)
    page.reload()
    page.get_by_role("link", name="deleted-for-bookmark").wait_for()
    assert page.locator(".grid-body a[href*='/runs/']").all_inner_texts() == ["deleted-for-bookmark"]
    client.restore_run(victim.info.run_id)
    client.delete_run(victim.info.run_id)  # stays deleted for the other tests' counts


def test_run_compare_and_model_addresses(page: Any, seeded: dict[str, Any]) -> None:
    exp, parent = seeded["experiment"], seeded["parent"]
    page.goto(f"/#/experiments/{exp}/runs/{parent}/overview")
    page.get_by_role("heading", name="sweep-parent").wait_for()
    page.goto(f"/#/runs/{parent}")
    page.get_by_role("heading", name="sweep-parent").wait_for()
    page.goto(f"/#/compare-experiments/s?experiments={json.dumps([exp, seeded['other']])}")
    page.get_by_role("link", name="sweep-parent").wait_for()  # its trials are nested under it
    page.get_by_role("link", name='<img src=x onerror="window.__xss=1">').first.wait_for()
    runs = {seeded["children"][0]: "1", seeded["children"][1]: "2"}
    page.goto(f"/#/compare-model-versions?name={quote(json.dumps('demo-model'))}&runs={quote(json.dumps(runs))}")
    page.locator("main a[href*='/runs/']", has_text="trial-1").first.wait_for()
    assert _hash(page).startswith("#/compare-runs?runs=")
    page.goto("/#/models/demo-model/versions/1")
    page.get_by_role("heading", name="demo-model version 1").wait_for()
    page.goto("/#/models/demo-model/serving")
    page.get_by_role("heading", name="demo-model").wait_for()
