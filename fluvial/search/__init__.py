"""Search grammars -> AST: one parser for run, experiment, registered-model and model-version searches.

    parse_filter("metrics.acc > 0.9 AND params.model = 'cnn'", "runs")
    -> [Comparison("metric", "acc", ">", 0.9), Comparison("param", "model", "=", "cnn")]
    parse_order_by(["metrics.acc DESC"], "runs") -> [OrderKey("metric", "acc", False)]

Layer L1: imports only the standard library and ``fluvial.exceptions``.
"""

from fluvial.search.grammar import parse_filter, parse_order_by
from fluvial.search.nodes import (
    ATTRIBUTE,
    DATASET,
    KINDS,
    LIST_COMPARATORS,
    METRIC,
    NUMERIC_COMPARATORS,
    PARAM,
    STRING_COMPARATORS,
    TAG,
    Comparison,
    OrderKey,
)
from fluvial.search.paging import decode_page_token, encode_page_token, validate_max_results

__all__ = [
    "ATTRIBUTE",
    "DATASET",
    "KINDS",
    "LIST_COMPARATORS",
    "METRIC",
    "NUMERIC_COMPARATORS",
    "PARAM",
    "STRING_COMPARATORS",
    "TAG",
    "Comparison",
    "OrderKey",
    "decode_page_token",
    "encode_page_token",
    "parse_filter",
    "parse_order_by",
    "validate_max_results",
]
