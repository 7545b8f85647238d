"""Type stub of the Rust kernel module (rust/cohortd-py); wrapped by cohortd.engine.kernels.rust_kernel."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__version__: str

U32s = npt.NDArray[np.uint32]
I64s = npt.NDArray[np.int64]
F64s = npt.NDArray[np.float64]

def count(users: Sequence[U32s], times: Sequence[I64s], start: int, end: int, n_users: int) -> U32s: ...
def aggregate(
    users: Sequence[U32s],
    times: Sequence[I64s],
    values: Sequence[F64s],
    start: int,
    end: int,
    n_users: int,
    func: str,
) -> tuple[F64s, U32s]: ...
def distinct(
    users: Sequence[U32s], times: Sequence[I64s], values: Sequence[I64s], start: int, end: int, n_users: int
) -> U32s: ...
def distinct_buckets(
    users: Sequence[U32s], times: Sequence[I64s], start: int, end: int, origin: int, period: int, n_users: int
) -> U32s: ...
def first_time(users: Sequence[U32s], times: Sequence[I64s], end: int, n_users: int) -> I64s: ...
def sequence(
    steps: Sequence[tuple[Sequence[U32s], Sequence[I64s]]], start: int, end: int, within: int, n_users: int
) -> npt.NDArray[np.bool_]: ...
def mask_to_roaring(mask: npt.NDArray[np.bool_] | npt.NDArray[np.uint8]) -> bytes: ...
def roaring_to_array(data: bytes) -> U32s: ...
def user_type_counts(
    users: Sequence[U32s],
    types: Sequence[U32s],
    times: Sequence[I64s],
    start: int,
    end: int,
    row_of_user: npt.NDArray[np.int32],
    col_of_type: npt.NDArray[np.int32],
    n_rows: int,
    n_cols: int,
) -> tuple[I64s, npt.NDArray[np.int32], U32s]: ...
def first_in_window(
    users: Sequence[U32s], times: Sequence[I64s], start: int, end: int, n_users: int
) -> I64s: ...
def retention_curve(
    starts: I64s, users: Sequence[U32s], times: Sequence[I64s], as_of: int, period: int, n_periods: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def funnel(
    steps: Sequence[tuple[Sequence[U32s], Sequence[I64s]]],
    entry_start: int,
    entry_end: int,
    as_of: int,
    window: int,
    n_users: int,
) -> tuple[U32s, I64s]: ...
def journeys(
    anchors: I64s,
    users: Sequence[U32s],
    times: Sequence[I64s],
    types: Sequence[U32s],
    rank: U32s,
    before: int,
    after: int,
    depth: int,
    keep_repeats: bool,
    as_of: int,
) -> tuple[U32s, U32s, U32s]: ...
def next_after(after: I64s, users: Sequence[U32s], times: Sequence[I64s], end: int) -> I64s: ...
