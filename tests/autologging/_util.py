"""Helpers of the autologging tests: the run a test produced, its artifacts and metric histories."""

from __future__ import annotations

from typing import Any


def only_run() -> Any:
    """The one run of the default experiment (fails when there is not exactly one)."""
    import fluvial

    runs = fluvial.search_runs(output_format="list")
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def artifact_paths(run_id: str, path: str | None = None) -> list[str]:
    from fluvial import MlflowClient

    client = MlflowClient()
    found: list[str] = []
    for info in client.list_artifacts(run_id, path):
        found.extend(artifact_paths(run_id, info.path) if info.is_dir else [info.path])
    return sorted(found)


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    from fluvial import MlflowClient

    return [(m.step, m.value) for m in MlflowClient().get_metric_history(run_id, key)]
