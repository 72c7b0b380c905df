"""Run page in a real browser: overview, params, metrics, tags, logged model registration, and the
artifact browser's previews (text, JSON, CSV, image, MLmodel signature, sandboxed HTML, capped + load all)."""

from __future__ import annotations

from typing import Any

from _ui import client_for, open_page


def test_overview_params_metrics(page: Any, seeded: dict[str, Any]) -> None:
    child = seeded["children"][0]
    open_page(page, f"experiments/{seeded['experiment']}/runs/{child}")
    page.get_by_role("heading", name="trial-0").wait_for()
    overview = page.locator("section", has=page.get_by_role("heading", name="Overview"))
    assert "ada" in overview.inner_text()
    overview.get_by_role("link", name=seeded["parent"]).wait_for()  # parent run
    params = page.locator("section", has=page.get_by_role("heading", name="Parameters (2)"))
    assert "alpha" in params.inner_text() and "depth" in params.inner_text()
    metrics = page.locator("section", has=page.get_by_role("heading", name="Metrics (2)"))
    metrics.get_by_role("link", name="loss").wait_for()
    spark = metrics.get_by_role("img", name="History of loss")
    page.wait_for_function("c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v)", arg=spark.element_handle())
    open_page(page, f"experiments/{seeded['experiment']}/runs/{seeded['parent']}")
    page.get_by_role("link", name="trial-4").wait_for()  # children listed on the parent


def test_tags_and_rename(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    client = client_for(ui_server)
    run_id = seeded["children"][5]
    open_page(page, f"runs/{run_id}")
    page.get_by_label("Tag key").fill("quality")
    page.get_by_label("Tag value").fill("good")
    page.get_by_role("button", name="Set tag").click()
    page.get_by_role("button", name="Edit tag quality").click()
    page.get_by_label("Tag value").fill("great")
    page.get_by_role("button", name="Set tag").click()
    page.get_by_role("cell", name="great").wait_for()
    assert client.get_run(run_id).data.tags["quality"] == "great"
    page.get_by_role("button", name="Delete tag quality").click()
    page.get_by_role("cell", name="great").wait_for(state="detached")
    assert "quality" not in client.get_run(run_id).data.tags
    page.get_by_role("button", name="Edit Run name").click()
    page.get_by_label("Run name").fill("trial-5-renamed")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="trial-5-renamed").wait_for()
    assert client.get_run(run_id).info.run_name == "trial-5-renamed"


def test_register_logged_model(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    client = client_for(ui_server)
    open_page(page, f"runs/{seeded['parent']}")
    page.get_by_role("button", name="Register model").click()
    page.get_by_label("Model name for model").fill("registered-from-ui")
    page.get_by_role("button", name="Register", exact=True).click()
    page.get_by_role("link", name="registered-from-ui version 1").wait_for()
    mv = client.get_model_version("registered-from-ui", "1")
    assert mv.run_id == seeded["parent"] and mv.source.endswith("/model")


def test_artifact_previews(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    open_page(page, f"runs/{seeded['parent']}")
    tree = page.get_by_role("tree", name="Artifacts")
    preview = page.locator(".preview")
    tree.get_by_role("button", name="notes.txt").click()
    preview.locator("pre", has_text="Training notes").wait_for()
    tree.get_by_role("button", name="config.json").click()
    preview.locator("pre", has_text='"layers"').wait_for()
    tree.get_by_role("button", name="data.csv").click()
    preview.get_by_role("columnheader", name="label").wait_for()
    assert preview.locator("tbody tr").count() == 30
    tree.get_by_role("button", name="plot.png").click()
    img = preview.get_by_role("img", name="plot.png")
    page.wait_for_function("i => i.complete && i.naturalWidth === 48", arg=img.element_handle())
    tree.get_by_role("button", name="▸ model/").click()
    tree.get_by_role("button", name="MLmodel").click()
    preview.get_by_role("cell", name="alpha").wait_for()
    assert "double" in preview.locator("table").first.inner_text()
    preview.get_by_role("button", name="Register model").click()  # register straight from the artifact
    preview.get_by_label("Model name for model").fill("from-artifact")
    preview.get_by_role("button", name="Register", exact=True).click()
    preview.get_by_role("link", name="from-artifact version 1").wait_for()
    tree.get_by_role("button", name="report.html").click()
    frame = preview.locator("iframe")
    frame.wait_for()
    assert frame.get_attribute("sandbox") == ""
    page.frame_locator(".preview iframe").get_by_role("heading", name="Report").wait_for()
    tree.get_by_role("button", name="big.log").click()
    preview.get_by_role("button", name="Load all").click()
    preview.locator("pre", has_text="THE END").wait_for()
    tree.get_by_role("button", name='<img src=x onerror="window.__xss=1">.txt').click()
    preview.locator("pre", has_text="hostile name").wait_for()
    download = preview.get_by_role("link", name="Download")
    assert "get-artifact" in download.get_attribute("href")
    assert page.evaluate("window.__xss") is None
    assert client_for(ui_server).get_model_version("from-artifact", "1").source.endswith("/artifacts/model")
    # The sandboxed report's <script> and <img onerror> must not run; Chromium reports the blocked script.
    page.problems[:] = [p for p in page.problems if "about:srcdoc" not in p and "sandboxed" not in p]


def test_parquet_preview_reads_the_first_rows(page: Any, seeded: dict[str, Any]) -> None:
    open_page(page, f"runs/{seeded['parent']}")
    page.get_by_role("tree", name="Artifacts").get_by_role("button", name="predictions.parquet").click()
    preview = page.locator(".preview")
    preview.get_by_role("columnheader", name="score").wait_for()
    assert "5,000 rows \u00d7 3 columns \u00b7 showing 100 rows" in preview.inner_text()
    assert preview.locator("tbody tr").count() == 100
    assert preview.locator("tbody tr").nth(1).locator("td").nth(2).inner_text() == "row-1"
    preview.get_by_role("button", name="Show 1,000 rows").click()
    page.wait_for_function("() => document.querySelectorAll('.preview tbody tr').length === 1000")
    assert page.evaluate("window.__xss") is None  # the hostile first label is text


def test_mlflow_run_page_artifact_address_opens_the_file(page: Any, seeded: dict[str, Any]) -> None:
    # MLflow 2.x: #/experiments/<id>/runs/<run>/artifacts/<path>
    page.goto(f"/#/experiments/{seeded['experiment']}/runs/{seeded['parent']}/artifacts/config.json")
    page.locator(".preview pre", has_text='"layers"').wait_for()
    assert page.evaluate("location.hash") == (
        f"#/experiments/{seeded['experiment']}/runs/{seeded['parent']}?artifact=config.json")
