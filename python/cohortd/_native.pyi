"""Type stub of the Rust kernel module (rust/cohortd-py); wrapped by cohortd.engine.kernels.rust_kernel."""

from collections.abc import Sequence
from typing import final

import numpy as np
import numpy.typing as npt

__version__: str
__all__ = [
    "PartList",
    "StringTable",
    "__version__",
    "aggregate",
    "aggregate_sparse",
    "bucket_counts_reaching",
    "contains_flat",
    "contains_matrix",
    "count",
    "count_per_user_window",
    "count_sparse",
    "distinct",
    "distinct_buckets",
    "distinct_buckets_sparse",
    "first_in_window",
    "first_time",
    "first_time_sparse",
    "flat_bitset",
    "funnel",
    "journeys",
    "mask_to_bitmap",
    "merge_order",
    "next_after",
    "nth_time",
    "nth_time_sparse",
    "retention_curve",
    "rows_of_users",
    "sequence",
    "sequence_sparse",
    "sort_by_time",
    "top_members",
    "user_type_counts",
    "users_in_window",
]

_U32s = npt.NDArray[np.uint32]
_I64s = npt.NDArray[np.int64]
_F64s = npt.NDArray[np.float64]

def count(users: Sequence[_U32s], times: Sequence[_I64s], start: int, end: int, n_users: int) -> _U32s: ...
def merge_order(
    types: Sequence[_U32s], users: Sequence[_U32s], times: Sequence[_I64s], period: int
) -> tuple[_I64s, _I64s] | None: ...
def rows_of_users(users: _U32s, wanted: _U32s) -> _I64s: ...
def sort_by_time(times: _I64s, users: _U32s) -> tuple[_I64s, _U32s]: ...
def aggregate(
    users: Sequence[_U32s],
    times: Sequence[_I64s],
    values: Sequence[_F64s],
    start: int,
    end: int,
    n_users: int,
    func: str,
) -> tuple[_F64s, _U32s]: ...
def distinct(
    users: Sequence[_U32s],
    times: Sequence[_I64s],
    values: Sequence[_I64s],
    start: int,
    end: int,
    n_users: int,
) -> _U32s: ...
def distinct_buckets(
    users: Sequence[_U32s],
    times: Sequence[_I64s],
    start: int,
    end: int,
    origin: int,
    period: int,
    n_users: int,
) -> _U32s: ...
def count_sparse(
    users: Sequence[_U32s], times: Sequence[_I64s], start: int, end: int
) -> tuple[_U32s, _U32s]: ...
def aggregate_sparse(
    users: Sequence[_U32s],
    times: Sequence[_I64s],
    values: Sequence[_F64s],
    start: int,
    end: int,
    func: str,
) -> tuple[_U32s, _F64s, _U32s]: ...
def distinct_buckets_sparse(
    users: Sequence[_U32s], times: Sequence[_I64s], start: int, end: int, origin: int, period: int
) -> tuple[_U32s, _U32s]: ...
def first_time_sparse(users: Sequence[_U32s], times: Sequence[_I64s], end: int) -> tuple[_U32s, _I64s]: ...
def nth_time_sparse(
    users: Sequence[_U32s], times: Sequence[_I64s], end: int, nth: int
) -> tuple[_U32s, _I64s]: ...
def sequence_sparse(
    steps: Sequence[tuple[Sequence[_U32s], Sequence[_I64s]]], start: int, end: int, within: int
) -> _U32s: ...
def first_time(users: Sequence[_U32s], times: Sequence[_I64s], end: int, n_users: int) -> _I64s: ...
def nth_time(users: Sequence[_U32s], times: Sequence[_I64s], end: int, nth: int, n_users: int) -> _I64s: ...
def bucket_counts_reaching(
    users: Sequence[_U32s],
    times: Sequence[_I64s],
    start: int,
    end: int,
    origin: int,
    period: int,
    lo: int,
    hi: int,
    n_users: int,
) -> _U32s: ...
def count_per_user_window(
    users: Sequence[_U32s], times: Sequence[_I64s], starts: _I64s, ends: _I64s, n_users: int
) -> _U32s: ...
def sequence(
    steps: Sequence[tuple[Sequence[_U32s], Sequence[_I64s]]], start: int, end: int, within: int, n_users: int
) -> npt.NDArray[np.bool_]: ...
def user_type_counts(
    users: Sequence[_U32s],
    types: Sequence[_U32s],
    times: Sequence[_I64s],
    start: int,
    end: int,
    row_of_user: npt.NDArray[np.int32],
    col_of_type: npt.NDArray[np.int32],
    n_rows: int,
    n_cols: int,
) -> tuple[_I64s, npt.NDArray[np.int32], _U32s]: ...
def first_in_window(
    users: Sequence[_U32s], times: Sequence[_I64s], start: int, end: int, n_users: int
) -> _I64s: ...
def retention_curve(
    starts: _I64s, users: Sequence[_U32s], times: Sequence[_I64s], as_of: int, period: int, n_periods: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def funnel(
    steps: Sequence[tuple[Sequence[_U32s], Sequence[_I64s]]],
    entry_start: int,
    entry_end: int,
    as_of: int,
    window: int,
    n_users: int,
) -> tuple[_U32s, _I64s]: ...
def journeys(
    anchors: _I64s,
    users: Sequence[_U32s],
    times: Sequence[_I64s],
    types: Sequence[_U32s],
    rank: _U32s,
    before: int,
    after: int,
    depth: int,
    keep_repeats: bool,
    as_of: int,
) -> tuple[_U32s, _U32s, _U32s]: ...
def next_after(after: _I64s, users: Sequence[_U32s], times: Sequence[_I64s], end: int) -> _I64s: ...
def contains_matrix(bitmaps: Sequence[bytes], ids: _I64s) -> npt.NDArray[np.bool_]: ...
def contains_flat(bitsets: Sequence[bytes], ids: _I64s) -> npt.NDArray[np.bool_]: ...
def flat_bitset(bitmap: bytes, max_bytes: int) -> bytes | None: ...
def mask_to_bitmap(mask: npt.NDArray[np.bool_], known: npt.NDArray[np.bool_]) -> bytes: ...
def users_in_window(
    users: Sequence[_U32s], times: Sequence[_I64s], start: int, end: int, n_users: int
) -> bytes: ...
def top_members(metric: _U32s, known: npt.NDArray[np.bool_], rank: int) -> bytes: ...

@final
class PartList:
    def __new__(
        cls,
        users: Sequence[_U32s],
        times: Sequence[_I64s],
        min_times: Sequence[int],
        max_times: Sequence[int],
        values: Sequence[_F64s] | None = None,
    ) -> PartList: ...
    def __len__(self) -> int: ...
    def rows(self, start: int, end: int) -> int: ...
    def count_sparse(self, start: int, end: int) -> tuple[_U32s, _U32s]: ...
    def aggregate_sparse(self, start: int, end: int, func: str) -> tuple[_U32s, _F64s, _U32s]: ...
    def count_members(self, start: int, end: int, op: str, lo: float, hi: float) -> _U32s: ...
    def aggregate_members(self, start: int, end: int, func: str, op: str, lo: float, hi: float) -> _U32s: ...

@final
class StringTable:
    def __new__(cls) -> StringTable: ...
    def __len__(self) -> int: ...
    def heap_bytes(self) -> int: ...
    def get(self, value: object) -> int | None: ...
    def value(self, idx: int) -> str: ...
    def lookup_list(self, values: Sequence[object]) -> _I64s: ...
    def encode_list(self, values: Sequence[str]) -> _U32s: ...
    def lookup_arrow(self, offsets: npt.NDArray[np.int32], data: npt.NDArray[np.uint8]) -> _I64s: ...
    def encode_arrow(self, offsets: npt.NDArray[np.int32], data: npt.NDArray[np.uint8]) -> _U32s: ...
    def append_arrow(self, offsets: npt.NDArray[np.int32], data: npt.NDArray[np.uint8]) -> None: ...
    def forget(self, idx: int, placeholder: str) -> None: ...
    def take(self, ids: _U32s) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint8]]: ...
    def range(self, start: int, end: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint8]]: ...
