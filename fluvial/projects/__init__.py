"""MLflow Projects: run a directory or git repository with an ``MLproject`` file as a tracked run.

``fluvial.projects.run(uri, entry_point="main", parameters=..., version=...)`` (MLflow's
``mlflow.projects.run``) returns a :class:`SubmittedRun`; ``fluvial run URI`` is the command line.
The parts: :mod:`~fluvial.projects.spec` (the MLproject file), :mod:`~fluvial.projects.params`
(parameters and the command), :mod:`~fluvial.projects.git` (fetching projects),
:mod:`~fluvial.projects.backends` (the local backend), :mod:`~fluvial.projects.docker` (docker_env)
and :mod:`~fluvial.projects.runner`. Importing this package loads the standard library only.
"""

from __future__ import annotations

from fluvial.exceptions import ExecutionException
from fluvial.projects.runner import run  # stdlib-only, like everything this package imports
from fluvial.projects.submitted import SubmittedRun

__all__ = ["ExecutionException", "SubmittedRun", "run"]
