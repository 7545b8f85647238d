"""A string dictionary's cached Arrow array and its decoding stay exact as values are added
and forgotten (the cache grows by appending; a few ids decode straight from the values)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from cohortd.storage.dictionary import StringDictionary
from hypothesis import given, settings
from hypothesis import strategies as st

names = st.text(alphabet="abcxyz", min_size=1, max_size=3)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("encode"), st.lists(names, max_size=6)),
        st.tuples(st.just("forget"), st.integers(0, 50)),
        st.tuples(st.just("decode"), st.lists(st.integers(0, 50), max_size=8)),
        st.tuples(st.just("arrow"), st.none()),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(ops=ops, direct=st.sampled_from([0, 4096]))
def test_cache_and_decode_match_the_values(ops, direct) -> None:  # type: ignore[no-untyped-def]
    d = StringDictionary(["seed"])
    d.DIRECT_DECODE = direct  # 0: always through the cached array
    model = ["seed"]
    for kind, arg in ops:
        if kind == "encode":
            ids = d.encode_unique(arg)
            for v, i in zip(arg, ids.tolist(), strict=True):
                if v not in model:
                    model.append(v)
                assert model[i] == v
        elif kind == "forget" and arg < len(model):
            d.forget(arg, f"<gone {arg}>")
            model[arg] = f"<gone {arg}>"
        elif kind == "decode":
            ids = np.array([i for i in arg if i < len(model)], np.uint32)
            assert d.decode(ids).to_pylist() == [model[i] for i in ids.tolist()]
        elif kind == "arrow":
            assert d.as_arrow().equals(pa.array(model, pa.string()))
    assert d.as_arrow().to_pylist() == model
