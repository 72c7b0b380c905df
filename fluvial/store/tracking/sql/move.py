"""Moving runs between experiments of one SQL tracking store (``fluvial runs move``).

Only ``runs.experiment_id`` changes: params, metrics, tags, inputs and the run id stay as they are.
The run's ``artifact_uri`` is kept too, so its artifacts stay where they are (under the old
experiment's artifact location) and remain readable through the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from fluvial.entities import LifecycleStage
from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist
from fluvial.store.tracking.sql import schema as s
from fluvial.store.tracking.sql.engine import write_transaction


def move_runs(engine: sa.Engine, run_ids: Sequence[str], experiment_id: str) -> list[tuple[str, str]]:
    """Move ``run_ids`` into the active experiment ``experiment_id``; all or nothing. Returns
    ``(run id, experiment id it came from)`` per run."""
    try:
        target = int(experiment_id)
    except ValueError:
        raise InvalidParameterValue(f"Invalid experiment ID: {experiment_id!r}") from None
    if not run_ids:
        raise InvalidParameterValue("No run id given: pass --run-id at least once")
    with write_transaction(engine) as conn:
        row = conn.execute(sa.select(s.experiments.c.lifecycle_stage)
                           .where(s.experiments.c.experiment_id == target)).first()
        if row is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        if row.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(f"Experiment {experiment_id} is deleted: restore it before moving runs into it")
        found = dict(conn.execute(sa.select(s.runs.c.run_uuid, s.runs.c.experiment_id)
                                  .where(s.runs.c.run_uuid.in_(list(run_ids)))).all())
        missing = [r for r in run_ids if r not in found]
        if missing:
            raise ResourceDoesNotExist(f"Run with id={missing[0]} not found")
        conn.execute(sa.update(s.runs).where(s.runs.c.run_uuid.in_(list(run_ids))).values(experiment_id=target))
    return [(r, str(found[r])) for r in run_ids]
