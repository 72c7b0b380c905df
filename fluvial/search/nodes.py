"""The search AST: what a filter string or an order_by clause means, free of any syntax."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

# Entities a comparison or an order key refers to.
METRIC = "metric"
PARAM = "param"
TAG = "tag"
ATTRIBUTE = "attribute"
DATASET = "dataset"

# The four grammars.
KINDS = ("runs", "experiments", "registered_models", "model_versions")

# Comparators as they appear in the AST (always upper case).
NUMERIC_COMPARATORS = frozenset({"=", "!=", ">", ">=", "<", "<="})
STRING_COMPARATORS = frozenset({"=", "!=", "LIKE", "ILIKE"})
LIST_COMPARATORS = frozenset({"IN", "NOT IN"})

Value = Union[str, int, float, tuple[str, ...]]


@dataclass(frozen=True)
class Comparison:
    """``<entity>.<key> <comparator> <value>``.

    ``value`` is a ``str`` for string comparisons (the text between the quotes, verbatim), an ``int``
    or ``float`` for numeric ones, and a ``tuple[str, ...]`` for ``IN`` / ``NOT IN``. Attribute keys are
    canonical (``created`` -> ``start_time``, ``Run name`` -> ``run_name``).
    """

    entity: str
    key: str
    comparator: str
    value: Value


@dataclass(frozen=True)
class OrderKey:
    """One order_by term. Attribute keys are canonical, as for :class:`Comparison`."""

    entity: str
    key: str
    ascending: bool = True
