"""Recipes (MLflow 2.x's ``mlflow.recipes``): ``Recipe(profile=...)`` runs ``recipe.yaml`` with the
templates ``regression/v1`` and ``classification/v1``. See docs/recipes.md."""

from __future__ import annotations

from typing import Any

__all__ = ["Recipe"]


def __getattr__(name: str) -> Any:
    if name != "Recipe":
        raise AttributeError(f"module 'fluvial.recipes' has no attribute {name!r}")
    from fluvial.recipes.recipe import Recipe

    return Recipe
