"""The CheckMembership answer built from the matrix's bytes equals the message built field by field."""

from __future__ import annotations

import numpy as np
from cohortd.server.servicer import _membership_response, _varint
from cohortd.service.membership import packed_bits
from cohortd.v1 import cohortd_pb2 as pb
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None)
@given(
    users=st.integers(0, 40),
    cohorts=st.integers(0, 9),
    seed=st.integers(0, 2**32 - 1),
    density=st.floats(0.0, 1.0),
)
def test_unpacked_answer_is_the_field_by_field_message(
    users: int, cohorts: int, seed: int, density: float
) -> None:
    matrix = np.random.default_rng(seed).random((users, cohorts)) < density
    got = _membership_response(pb.CheckMembershipRequest(), matrix)
    expected = pb.CheckMembershipResponse(member=matrix.ravel().tolist(), users=users, cohorts=cohorts)
    assert got == expected
    assert list(got.member) == [bool(x) for x in matrix.ravel()]
    assert (got.users, got.cohorts) == (users, cohorts)


def test_packed_answer_and_a_large_matrix() -> None:
    matrix = np.random.default_rng(3).random((300, 7)) < 0.4  # 2,100 checks: a two-byte length
    got = _membership_response(pb.CheckMembershipRequest(), matrix)
    assert list(got.member) == matrix.ravel().tolist()
    packed = _membership_response(pb.CheckMembershipRequest(packed=True), matrix)
    assert packed.member_bits == packed_bits(matrix) and not packed.member


def test_varint_matches_protobuf() -> None:
    for n in (0, 1, 127, 128, 300, 16_383, 16_384, 2**31 - 1):
        assert pb.CheckMembershipResponse.FromString(b"\x10" + _varint(n)).users == n
