"""``fluvial recipes``: run, inspect, clean a recipe and print where a step's artifact is."""

from __future__ import annotations

from typing import Any

import click

_profile = click.option("--profile", "-p", envvar="MLFLOW_RECIPES_PROFILE", required=True,
                        help="The profile (profiles/<name>.yaml) to render recipe.yaml with. "
                             "Default: $MLFLOW_RECIPES_PROFILE.")


def _recipe(profile: str) -> Any:
    from fluvial.recipes.recipe import Recipe

    return Recipe(profile=profile)


@click.group("recipes")
def commands() -> None:
    """Run MLflow 2.x recipes (recipe.yaml + profiles/) found from the working directory."""


@commands.command()
@click.option("--step", "-s", default=None, help="Run up to this step (default: register, the whole training DAG; "
                                                 "predict for the scoring DAG).")
@_profile
def run(step: str | None, profile: str) -> None:
    """Run the recipe's steps up to STEP; steps whose inputs did not change are skipped."""
    recipe = _recipe(profile)
    try:
        recipe.run(step)
    finally:
        info = getattr(recipe, "last_run", {})
        if info.get("skipped"):
            click.echo(f"{', '.join(info['skipped'])}: No changes. Skipping.")
        for name in info.get("executed", []):
            click.echo(f"{name}: done ({recipe.ctx.output(name, 'card.html')})")


@commands.command()
@click.option("--step", "-s", default=None, help="The step whose card to show (default: an overview of all steps).")
@_profile
def inspect(step: str | None, profile: str) -> None:
    """Print the path of a step's card (a self-contained HTML file)."""
    click.echo(_recipe(profile).inspect(step))


@commands.command()
@click.option("--step", "-s", default=None, help="The step whose outputs to remove (default: every step).")
@_profile
def clean(step: str | None, profile: str) -> None:
    """Remove cached step outputs so the next run recomputes them."""
    _recipe(profile).clean(step)


@commands.command("get-artifact")
@click.option("--artifact", "-a", required=True, help="Artifact name: ingested_data, training_data, model, run, ...")
@_profile
def get_artifact(artifact: str, profile: str) -> None:
    """Print the local path of an artifact (nothing when its step has not run)."""
    path = _recipe(profile).artifact_path(artifact)
    if path is not None:
        click.echo(path)
