"""Small operations the revision modules in ``versions/`` share."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op


def drop_check_if_present(target: Any, table: str, name: str) -> bool:
    """Drop the CHECK constraint ``name`` of ``table`` through ``target`` (``op`` or a batch) when the
    database has it: MySQL before 8.0.16 never kept CHECK constraints, and older MLflow releases created
    some under other names. Returns whether one was dropped."""
    checks = sa.inspect(op.get_bind()).get_check_constraints(table)
    if not any(c.get("name") == name for c in checks):
        return False
    if target is op:
        op.drop_constraint(name, table, type_="check")
    else:
        target.drop_constraint(name, type_="check")
    return True
