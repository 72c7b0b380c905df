"""Model registry pages in a real browser: list and search, model description and tags, version page
(signature, input example, stage transition with archive_existing_versions, aliases, tags), delete."""

from __future__ import annotations

from typing import Any

from _ui import client_for, open_page


def test_models_list_search_and_create(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    open_page(page, "models")
    row = page.get_by_role("row", name="demo-model")
    row.get_by_text("@champion → v1").wait_for()
    assert "Production" in row.inner_text() and "owner=ada" in row.inner_text()
    page.get_by_label("Search models by name").fill("nothing-like-this")
    page.get_by_label("Search models by name").press("Enter")
    page.get_by_text("No registered models.").wait_for()
    page.get_by_label("New model name").fill("created-in-ui")
    page.get_by_role("button", name="Create model").click()
    page.get_by_role("heading", name="created-in-ui").wait_for()
    assert client_for(ui_server).get_registered_model("created-in-ui").name == "created-in-ui"


def test_model_page_description_tags_and_delete(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    client = client_for(ui_server)
    client.create_registered_model("to-delete")
    open_page(page, "models/demo-model")
    page.locator(".markdown strong", has_text="demo").wait_for()
    page.get_by_role("link", name="Version 2").wait_for()
    page.get_by_role("button", name="Edit Model description").click()
    page.get_by_label("Model description").fill("Now *updated*")
    page.get_by_role("button", name="Save").click()
    page.locator(".markdown em", has_text="updated").wait_for()
    assert client.get_registered_model("demo-model").description == "Now *updated*"
    page.get_by_label("Tag key").fill("team")
    page.get_by_label("Tag value").fill("ml")
    page.get_by_role("button", name="Set tag").click()
    page.get_by_role("button", name="Delete tag team").wait_for()
    assert client.get_registered_model("demo-model").tags["team"] == "ml"

    open_page(page, "models/to-delete")
    page.get_by_role("button", name="Delete model").click()
    page.get_by_role("button", name="Really delete model").click()
    page.get_by_role("heading", name="Registered models").wait_for()
    assert not [m for m in client.search_registered_models() if m.name == "to-delete"]


def test_version_page_stage_aliases_tags(page: Any, ui_server: Any, seeded: dict[str, Any]) -> None:
    client = client_for(ui_server)
    open_page(page, "models/demo-model/versions/2")
    page.get_by_role("heading", name="demo-model version 2").wait_for()
    page.get_by_role("cell", name="depth").wait_for()  # signature from the MLmodel
    page.locator("pre", has_text='"columns"').wait_for()  # input example
    page.get_by_role("link", name=seeded["parent"]).wait_for()

    page.get_by_label("New stage").select_option("Production")
    page.get_by_label("Archive existing versions in that stage").check()
    page.get_by_role("button", name="Transition").click()
    page.locator("h1 .badge", has_text="Production").wait_for()
    assert client.get_model_version("demo-model", "2").current_stage == "Production"
    assert client.get_model_version("demo-model", "1").current_stage == "Archived"

    page.get_by_label("New alias").fill("candidate")
    page.get_by_role("button", name="Add alias").click()
    page.get_by_role("button", name="Remove alias candidate").wait_for()
    assert str(client.get_model_version_by_alias("demo-model", "candidate").version) == "2"
    page.get_by_role("button", name="Remove alias candidate").click()
    page.get_by_role("button", name="Remove alias candidate").wait_for(state="detached")
    assert "candidate" not in client.get_registered_model("demo-model").aliases

    page.get_by_label("Tag key").fill("validated")
    page.get_by_label("Tag value").fill("true")
    page.get_by_role("button", name="Set tag").click()
    page.get_by_role("button", name="Delete tag validated").wait_for()
    assert client.get_model_version("demo-model", "2").tags["validated"] == "true"

    page.get_by_role("button", name="Delete version").click()
    page.get_by_role("button", name="Really delete version").click()
    page.get_by_role("heading", name="demo-model", exact=True).wait_for()
    assert [str(v.version) for v in client.search_model_versions("name = 'demo-model'")] == ["1"]
