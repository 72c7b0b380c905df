"""Experiments list in a real browser: search, create, rename, description, tags, delete/restore, XSS."""

from __future__ import annotations

from typing import Any

from _ui import client_for, open_page

from fluvial.entities import ViewType


def test_list_search_and_hostile_name_is_inert(page: Any, seeded: dict[str, Any]) -> None:
    open_page(page, "experiments")
    page.get_by_role("link", name="demo-regression").wait_for()
    hostile = page.get_by_role("link", name='hostile <img src=x onerror="window.__xss=1">')
    hostile.wait_for()
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.__xss") is None
    # keyboard: reach the search box, type, press Enter
    search = page.get_by_label("Search experiments by name")
    search.focus()
    page.keyboard.type("demo")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=demo")
    page.get_by_role("link", name="demo-regression").wait_for()
    page.get_by_role("link", name="Default").wait_for(state="detached")


def test_create_rename_describe_tag_delete_restore(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    client = client_for(ui_server)
    open_page(page, "experiments")
    page.get_by_label("New experiment name").fill("made-in-ui")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="made-in-ui").wait_for()
    exp = client.get_experiment_by_name("made-in-ui")
    assert exp is not None

    page.get_by_role("button", name="Details of made-in-ui").click()
    page.get_by_role("button", name="Edit Experiment name").click()
    page.get_by_label("Experiment name", exact=True).fill("renamed-in-ui")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="renamed-in-ui").wait_for()
    assert client.get_experiment(exp.experiment_id).name == "renamed-in-ui"

    page.get_by_role("button", name="Edit Experiment description").click()  # details stay open
    page.get_by_label("Experiment description").fill('Has **bold** and <script>window.__xss=3</script>\n\n- item [link](javascript:alert(1))')
    page.get_by_role("button", name="Save").click()
    page.locator(".markdown strong", has_text="bold").wait_for()
    assert page.locator(".markdown script").count() == 0
    assert page.locator(".markdown a").count() == 0  # javascript: links render as text
    assert "<script>" in page.locator(".markdown").inner_text()
    assert client.get_experiment(exp.experiment_id).tags["mlflow.note.content"].startswith("Has **bold**")

    page.get_by_label("Tag key").fill("owner")
    page.get_by_label("Tag value").fill("ui-test")
    page.get_by_role("button", name="Set tag").click()
    page.get_by_role("button", name="Delete tag owner").wait_for()
    assert client.get_experiment(exp.experiment_id).tags["owner"] == "ui-test"
    page.get_by_role("button", name="Delete tag owner").click()
    page.get_by_role("button", name="Delete tag owner").wait_for(state="detached")
    assert "owner" not in client.get_experiment(exp.experiment_id).tags

    page.get_by_role("button", name="Delete renamed-in-ui").click()
    page.get_by_role("link", name="renamed-in-ui").wait_for(state="detached")
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "deleted"
    page.get_by_label("Show deleted").check()
    page.get_by_role("link", name="renamed-in-ui").wait_for()
    page.locator("li", has=page.get_by_role("link", name="renamed-in-ui")).get_by_role("button", name="Restore").click()
    page.wait_for_function("() => !document.querySelector('li .deleted a')")
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "active"
    assert len(client.search_experiments(view_type=ViewType.ALL)) >= 4


def test_create_error_is_shown(page: Any, seeded: dict[str, Any]) -> None:
    open_page(page, "experiments")
    page.get_by_label("New experiment name").fill("demo-regression")
    page.get_by_role("button", name="Create").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "RESOURCE_ALREADY_EXISTS" in alert.inner_text()
    page.problems.clear()  # the browser logs the 400 answer; that is the point of this test


UNLABELLED = """() => [...document.querySelectorAll('main input, main select, main textarea, main button, header button')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim() && !el.title)
  .map(el => el.outerHTML.slice(0, 120))"""


def test_every_control_is_labelled(page: Any, seeded: dict[str, Any]) -> None:
    run = seeded["parent"]
    pages = ["experiments", f"experiments/{seeded['experiment']}", f"experiments/{seeded['experiment']}/runs/{run}",
             f"metric/loss?runs=[\"{run}\"]", f"compare-runs?runs=[\"{run}\",\"{seeded['children'][0]}\"]",
             "models", "models/demo-model", "models/demo-model/versions/1"]
    for route in pages:
        open_page(page, route)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNLABELLED) == [], route


def test_keyboard_only_from_list_to_run(page: Any, seeded: dict[str, Any]) -> None:
    open_page(page, "experiments")
    page.get_by_role("link", name="demo-regression").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/#/experiments/{seeded['experiment']}")
    expand = page.get_by_role("button", name="Expand sweep-parent")
    expand.focus()
    page.keyboard.press("Enter")
    collapse = page.get_by_role("button", name="Collapse sweep-parent")
    assert collapse.get_attribute("aria-expanded") == "true"
    assert collapse.evaluate("el => el === document.activeElement")  # focus survives the re-render
    page.keyboard.press("Tab")  # the next control is the parent's link
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/runs/{seeded['parent']}")
    page.get_by_role("heading", name="sweep-parent").wait_for()
