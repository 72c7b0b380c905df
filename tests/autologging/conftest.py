"""Autologging tests: every test starts and ends with autologging off (no patch, hook or configuration
left behind), on a fresh SQLite tracking URI, with small data sets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest


def _reset_autologging() -> None:
    from fluvial.autologging import INTEGRATIONS, config, hooks, patching

    for name in [*INTEGRATIONS, "toy", "toy2", "universal"]:
        patching.revert_patches(name)
        hooks.cancel(name)
    config._reset_for_tests()
    from fluvial.flavors.spark import _post_training as spark_post_training

    spark_post_training._reset_for_tests()
    try:
        from fluvial.flavors.sklearn import _post_training
    except ImportError:  # pragma: no cover
        return
    _post_training._reset_for_tests()


@pytest.fixture(autouse=True)
def _autologging_off(tracking_uri) -> Iterator[None]:
    _reset_autologging()
    yield
    _reset_autologging()


@pytest.fixture
def autolog_warnings(caplog) -> Any:
    """The warnings autologging logged (to the ``fluvial.autologging`` logger)."""
    caplog.set_level(logging.WARNING, logger="fluvial.autologging")

    def messages() -> list[str]:
        return [r.getMessage() for r in caplog.records
                if r.name.startswith("fluvial.autologging") and r.levelno >= logging.WARNING]

    return messages
