"""Property predicates → boolean masks, over event columns and user-property columns.

String values are dictionary codes: every string predicate (``==``, ``<``,
``in``, ``contains``) becomes a lookup table over the value dictionary, built
once per evaluation, indexed by the codes.  A missing property makes every
comparison false; only ``not exists`` (and an explicit ``not`` around a
comparison) is true for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cohortd.engine.kernels import holds
from cohortd.lang import ast

_PC = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def value_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "string"


def compatible(kind: str, v: Any) -> bool:
    """Whether a literal can be compared with a property of schema ``kind``."""
    vk = value_kind(v)
    return vk == kind or (vk == "number" and kind in ("int", "float"))


class ValueLookups:
    """Lookup tables over the string value dictionary, kept while the dictionary is unchanged."""

    #: tables kept at most (one byte per distinct value each) before a kept set is dropped
    KEEP = 64

    def __init__(self, values: pa.Array) -> None:
        self.values = values
        self._cache: dict[Any, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def table(self, key: Any, build: Callable[[], np.ndarray]) -> np.ndarray:
        lut = self._cache.get(key)
        if lut is None:
            lut = self._cache[key] = build()
        return lut

    def compare(self, op: str, value: str) -> np.ndarray:
        return self.table(("cmp", op, value), lambda: _mask(_PC[op](self.values, value)))

    def member(self, values: tuple[Any, ...]) -> np.ndarray:
        wanted = pa.array([v for v in values if isinstance(v, str)], pa.string())
        return self.table(("in", values), lambda: _mask(pc.is_in(self.values, value_set=wanted)))

    def contains(self, substr: str) -> np.ndarray:
        return self.table(("contains", substr), lambda: _mask(pc.match_substring(self.values, substr)))


def _lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]``; missing values carry code 0 and are masked by validity afterwards."""
    if len(table) == 0:
        return np.zeros(len(codes), bool)
    return np.take(table, codes, mode="clip")


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.fill_null(False)).astype(bool)


def predicate_mask(
    pred: ast.Predicate,
    values: np.ndarray | None,
    valid: np.ndarray | None,
    kind: str | None,
    n: int,
    lookups: ValueLookups,
) -> np.ndarray:
    """Mask of one predicate over a column (``values``, ``valid``) of schema ``kind``.

    ``values is None`` means the column does not exist here: every value is missing.
    """
    if isinstance(pred, ast.PropExists):
        has = np.zeros(n, bool) if valid is None else valid.copy()
        return ~has if pred.negated else has
    if values is None or valid is None or kind is None:
        return np.zeros(n, bool)
    if isinstance(pred, ast.PropCmp):
        if not compatible(kind, pred.value):
            return np.zeros(n, bool)
        if kind == "string" and isinstance(pred.value, str):  # compatible: a string column, a str literal
            hit = _lookup(lookups.compare(pred.op, pred.value), values)
        else:
            hit = holds(values, pred.op, pred.value)
        return valid & hit
    if isinstance(pred, ast.PropIn):
        if kind == "string":
            hit = _lookup(lookups.member(pred.values), values)
        else:
            wanted = [v for v in pred.values if compatible(kind, v)]
            hit = np.isin(values, np.array(wanted)) if wanted else np.zeros(n, bool)
        return valid & (~hit if pred.negated else hit)
    if isinstance(pred, ast.PropContains):
        if kind != "string":
            return np.zeros(n, bool)
        return valid & _lookup(lookups.contains(pred.substr), values)
    raise TypeError(f"not a predicate: {pred!r}")


def filter_mask(
    flt: ast.Filter,
    column: Callable[[str], tuple[np.ndarray | None, np.ndarray | None, str | None]],
    n: int,
    lookups: ValueLookups,
) -> np.ndarray:
    """Mask of a filter tree; ``column(prop)`` gives (values, valid, kind) for ``n`` rows."""
    if isinstance(flt, ast.FAnd):
        return filter_mask(flt.left, column, n, lookups) & filter_mask(flt.right, column, n, lookups)
    if isinstance(flt, ast.FOr):
        return filter_mask(flt.left, column, n, lookups) | filter_mask(flt.right, column, n, lookups)
    if isinstance(flt, ast.FNot):
        return ~filter_mask(flt.item, column, n, lookups)
    values, valid, kind = column(flt.prop)
    return predicate_mask(flt, values, valid, kind, n, lookups)


def arrow_column(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values, valid) numpy views of an Arrow column slice."""
    valid = np.ones(len(arr), bool) if arr.null_count == 0 else np.asarray(arr.is_valid())
    if pa.types.is_boolean(arr.type):
        return np.asarray(arr.fill_null(False)).astype(bool), valid
    if arr.null_count == 0:
        return arr.to_numpy(zero_copy_only=False), valid
    return arr.fill_null(0).to_numpy(zero_copy_only=False), valid
