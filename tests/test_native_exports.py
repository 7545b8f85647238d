"""Every export of the Rust module has a Python wrapper and a stub entry (no dead or hidden native API)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import cohortd
import cohortd._native as native
from cohortd.engine import evaluate, maintain
from cohortd.engine.kernels import numba_kernel, rust_kernel
from cohortd.storage import dictionary, segment

CONTRACT = ("count", "aggregate", "distinct", "distinct_buckets", "first_time", "sequence")


def _exports() -> set[str]:
    return {n for n in dir(native) if not n.startswith("_")}


def test_every_native_export_is_wrapped_by_rust_kernel() -> None:
    """Kernels are wrapped by ``rust_kernel``; the string table by the storage dictionary, the
    merge order by the segment module, the row lookup by the evaluation's user subset and the
    time sort by incremental maintenance (uses of the native module that no second kernel
    implements)."""
    source = inspect.getsource(rust_kernel)
    imported = {
        a.name
        for module in (dictionary, segment, evaluate, maintain)
        for n in ast.parse(inspect.getsource(module)).body
        if isinstance(n, ast.ImportFrom) and n.module == "cohortd._native"
        for a in n.names
    }
    missing = [n for n in _exports() if f"_native.{n}(" not in source and n not in imported]
    assert missing == []


def test_stub_lists_exactly_the_native_exports() -> None:
    stub = Path(cohortd.__file__).with_name("_native.pyi").read_text()
    stubbed = {n.name for n in ast.parse(stub).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert stubbed == _exports()


def test_both_kernels_offer_the_whole_contract_with_the_same_signatures() -> None:
    for name in CONTRACT:
        rust_sig = inspect.signature(getattr(rust_kernel, name))
        numba_sig = inspect.signature(getattr(numba_kernel, name))
        assert list(rust_sig.parameters) == list(numba_sig.parameters), name
