"""Each kind of Rust kernel error surfaces as its own cohortd.errors class (a KernelError subclass)."""

from __future__ import annotations

import cohortd._native as native
import numpy as np
import pytest
from cohortd.errors import (
    CohortError,
    KernelArgumentError,
    KernelError,
    KernelPartsError,
    KernelRangeError,
)


def _u32(*xs: int) -> np.ndarray:
    return np.array(xs, dtype=np.uint32)


def _i64(*xs: int) -> np.ndarray:
    return np.array(xs, dtype=np.int64)


def test_the_kinds_are_distinct_kernel_errors() -> None:
    kinds = (KernelPartsError, KernelRangeError, KernelArgumentError)
    for kind in kinds:
        assert issubclass(kind, KernelError) and issubclass(kind, CohortError)
        assert [k for k in kinds if issubclass(kind, k)] == [kind]


def test_misaligned_parts_raise_kernel_parts_error() -> None:
    with pytest.raises(KernelPartsError, match="1 user parts but 0 time parts"):
        native.count([_u32(0)], [], 0, 1, 1)
    with pytest.raises(KernelPartsError, match="part 0: 2 users but 1 times"):
        native.count([_u32(0, 1)], [_i64(0)], 0, 1, 2)


def test_a_non_contiguous_part_raises_kernel_parts_error() -> None:
    users = np.arange(4, dtype=np.uint32)[::2]
    with pytest.raises(KernelPartsError, match="not a contiguous array"):
        native.count([users], [_i64(0, 0)], 0, 1, 4)


def test_an_id_past_the_table_raises_kernel_range_error() -> None:
    with pytest.raises(KernelRangeError, match="user id 3 out of range"):
        native.count([_u32(3)], [_i64(0)], 0, 1, 3)


def test_a_parameter_outside_its_domain_raises_kernel_argument_error() -> None:
    values = [np.array([1.0])]
    with pytest.raises(KernelArgumentError, match="unknown aggregate function"):
        native.aggregate([_u32(0)], [_i64(0)], values, 0, 1, 1, "avg")
    with pytest.raises(KernelArgumentError, match="period must be positive"):
        native.distinct_buckets([_u32(0)], [_i64(0)], 0, 1, 0, 0, 1)
