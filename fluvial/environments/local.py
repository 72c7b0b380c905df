"""``--env-manager local``: the running interpreter, with whatever it has installed."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fluvial.environments.base import Environment, EnvManager, Report, report_to_stderr
from fluvial.exceptions import InvalidParameterValue


class LocalEnvManager(EnvManager):
    name = "local"

    @property
    def is_local(self) -> bool:
        return True

    def prepare(self, model_dir: str, *, pip_requirements_override: Sequence[str] | None = None,
                report: Report = report_to_stderr) -> Environment:
        if pip_requirements_override:
            raise InvalidParameterValue(
                "--pip-requirements-override needs an environment fluvial builds (--env-manager virtualenv, uv "
                "or conda); with --env-manager local install the packages yourself: pip install "
                + " ".join(pip_requirements_override)
            )
        return Environment("local", sys.executable)
