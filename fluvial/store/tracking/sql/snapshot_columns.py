"""The run snapshot's columns (``run_snapshot.py``) and the search comparisons evaluated on them.

Numbers are a float array (NaN where the run has none, or a NaN metric: neither matches a numeric
comparison). Strings are dictionary-encoded: an int32 code per row (-1 where the run has none) into
an array of distinct values, so ``=``, ``!=``, ``IN``, ``LIKE`` and ``ILIKE`` are evaluated once per
distinct value and then looked up by code (a few dozen values for a status, a team or an optimizer,
instead of a string comparison per run). A column whose values are nearly all different (run ids,
artifact locations, run names) is stored one entry per row instead: encoding it would save nothing.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from fluvial.search import LIST_COMPARATORS
from fluvial.store.tracking.sql.search import like_to_regex, normalize_like_pattern

STR = np.dtypes.StringDType()
EXACT_FLOAT = 2**53
# A column is dictionary-encoded while it has at most this many distinct values; past it (at build, or
# as values change) each row gets its own entry.
DISTINCT_MAX = 4_096
# A one-entry-per-row column is compacted once its entries exceed twice its rows by this many.
COMPACT_SLACK = 1_024


class Numbers:
    """A float per row: NaN where the run has none (or a NaN metric)."""

    numeric = True

    def __init__(self, capacity: int) -> None:
        self.values = np.full(capacity, np.nan)

    @classmethod
    def of(cls, values: list[Any], capacity: int) -> Numbers:
        column = cls(capacity)
        column.values[:len(values)] = np.array(values, dtype=float)  # None: NaN
        return column

    def reorder(self, order: Any) -> None:
        """Rows in this order (``order`` a permutation of all rows)."""
        self.values = self.values[order]

    @property
    def capacity(self) -> int:
        return len(self.values)

    def grow(self, capacity: int) -> None:
        self.values = np.concatenate([self.values, np.full(capacity - len(self.values), np.nan)])

    def set(self, row: int, value: Any) -> None:
        self.values[row] = np.nan if value is None else float(value)

    def mask(self, size: int, op: str, value: Any) -> Any:
        """Rows ``< size`` matching ``column <op> value`` as SQL would, or None when SQL must decide."""
        values = self.values[:size]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if isinstance(value, int) and abs(value) > EXACT_FLOAT:
            return None
        number = float(value)
        known = ~np.isnan(values)
        if math.isinf(number):
            true_ops = ("<", "<=", "!=") if number > 0 else (">", ">=", "!=")
            return known if op in true_ops else np.zeros(size, dtype=bool)
        with np.errstate(invalid="ignore"):
            if op == "=":
                return values == number
            if op == "!=":
                return (values != number) & known
            if op == ">":
                return values > number
            if op == ">=":
                return values >= number
            if op == "<":
                return values < number
            if op == "<=":
                return values <= number
        return None


class Strings:
    """A string per row, as codes into ``distinct`` (-1: none). While the column has few distinct
    values, ``index`` finds a value's code and each value appears once; otherwise ``index`` is None and
    a changed row gets a new entry (compacted when entries outnumber rows twice over)."""

    numeric = False

    def __init__(self, capacity: int) -> None:
        self.codes = np.full(capacity, -1, dtype=np.int32)
        self.distinct: Any = np.full(16, "", dtype=STR)
        self.used = 0  # entries of ``distinct`` in use
        self.index: dict[str, int] | None = {}
        self._ascii: bool | None = True

    @classmethod
    def of(cls, values: list[Any], capacity: int) -> Strings:
        """The column of these row values (None: none), encoded when few are distinct."""
        column = cls(capacity)
        n = len(values)
        index: dict[str, int] = {}
        for v in values:  # stops at the first DISTINCT_MAX + 1 distinct values
            if v is not None and v not in index:
                index[v] = len(index)
                if len(index) > DISTINCT_MAX:
                    break
        if len(index) <= DISTINCT_MAX:
            lookup: dict[Any, int] = {**index, None: -1}
            column.codes[:n] = np.fromiter(map(lookup.__getitem__, values), dtype=np.int32, count=n)
            distinct = [str(v) for v in index]  # in code order (a value read as a number shows as text)
            column.index = {text: code for code, text in enumerate(distinct)}
            column.distinct = np.array(distinct or [""], dtype=STR)
            column.used = len(distinct)
        else:  # nearly all different: one entry per row
            column.index = None
            column.distinct = np.array(["" if v is None else str(v) for v in values] or [""], dtype=STR)
            column.used = n
            column.codes[:n] = np.arange(n, dtype=np.int32)
            missing = [i for i, v in enumerate(values) if v is None]
            if missing:
                column.codes[missing] = -1
        column._ascii = None
        return column

    @property
    def capacity(self) -> int:
        return len(self.codes)

    def reorder(self, order: Any) -> None:
        """Rows in this order (``order`` a permutation of all rows)."""
        self.codes = self.codes[order]

    def grow(self, capacity: int) -> None:
        self.codes = np.concatenate([self.codes, np.full(capacity - len(self.codes), -1, dtype=np.int32)])

    def set(self, row: int, value: Any) -> None:
        if value is None:
            self.codes[row] = -1
            return
        text = str(value)
        if self.index is not None:
            code = self.index.get(text)
            if code is None:
                code = self._add(text)
        else:
            old = int(self.codes[row])
            if old >= 0 and self.distinct[old] == text:
                return  # the same value re-read (the run changed elsewhere)
            code = self._add(text)
        self.codes[row] = code

    def _add(self, text: str) -> int:
        if self.used == len(self.distinct):
            self.distinct = np.concatenate([self.distinct, np.full(max(16, self.used), "", dtype=STR)])
        code = self.used
        self.distinct[code] = text
        self.used += 1
        if self._ascii and not text.isascii():
            self._ascii = False
        if self.index is not None:
            self.index[text] = code
            if len(self.index) > DISTINCT_MAX:
                self.index = None
        elif self.used > 2 * len(self.codes) + COMPACT_SLACK:
            self._compact()
        return code

    def _compact(self) -> None:
        """One entry per row again, dropping the values no row holds any more."""
        present = self.codes >= 0
        self.distinct = self.distinct[np.where(present, self.codes, 0)]
        self.codes = np.where(present, np.arange(len(self.codes), dtype=np.int32), -1).astype(np.int32)
        self.used = len(self.codes)

    def ascii_only(self) -> bool:
        """Whether every stored value is ASCII (values no row holds any more included)."""
        if self._ascii is None:
            self._ascii = all(str(v).isascii() for v in self.distinct[:self.used])
        return self._ascii

    def mask(self, size: int, op: str, value: Any) -> Any:
        """Rows ``< size`` holding a value for which ``value <op> value`` holds in SQL, or None when SQL
        must decide: the comparison is evaluated on the distinct values, then looked up by code."""
        hit = self._match(op, value)
        if hit is None:
            return None
        codes = self.codes[:size]
        matched = np.flatnonzero(hit)
        if len(matched) == 0:
            return np.zeros(size, dtype=bool)
        if len(matched) == 1:
            return codes == matched[0]
        if len(matched) == self.used:
            return codes >= 0
        lookup = np.zeros(self.used + 1, dtype=bool)  # the last entry answers code -1 (no value)
        lookup[:self.used] = hit
        return lookup[codes]

    def _match(self, op: str, value: Any) -> Any:
        distinct = self.distinct[:self.used]
        if op in LIST_COMPARATORS:
            hit = np.zeros(self.used, dtype=bool)
            for item in value:
                hit |= distinct == str(item)
            return hit if op == "IN" else ~hit
        if not isinstance(value, str):
            return None
        if op == "=":
            return distinct == value
        if op == "!=":
            return distinct != value
        if op == "LIKE":
            return _like(distinct, value)
        if op == "ILIKE":
            if not value.isascii() or not self.ascii_only():
                return None  # lower() of non-ASCII text differs between databases: SQL decides
            return _like(_ascii_lower(distinct), value.lower())
        return None


def _ascii_lower(values: Any) -> Any:
    lowered = values
    for upper in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        lowered = np.strings.replace(lowered, upper, upper.lower())
    return lowered


def _like(values: Any, pattern: str) -> Any:
    pattern = normalize_like_pattern(pattern)
    body = pattern
    if "\\" not in body and "_" not in body:
        inner = body.strip("%")
        if "%" not in inner:
            starts, ends = body.startswith("%"), body.endswith("%") and len(body) > len(inner)
            if not starts and not ends:
                return values == inner
            if not starts:
                return np.strings.startswith(values, inner)
            if not ends:
                return np.strings.endswith(values, inner)
            return np.strings.find(values, inner) >= 0
    regex = re.compile(like_to_regex(pattern), re.DOTALL)
    return np.fromiter((regex.fullmatch(v) is not None for v in values), dtype=bool, count=len(values))
