"""SDK membership checks (``IsMember``, ``CheckMembership``), mixed into :class:`cohortd.Client`.

c.is_member("u1", "Power users")                          # True / False
c.check_membership(["u1", "u2"], ["Power users", "Churning"])  # [[True, False], [False, False]]

``check_membership`` asks for the packed answer (``member_bits``: one bit per
check instead of one byte) and unpacks it here; an older server that ignores
``packed`` answers in ``member``, which is read the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from cohortd import wire
from cohortd.v1 import cohortd_pb2 as pb

__all__ = ["MembershipClient", "unpack_bits"]

AsOf = int | float | datetime | str | None

_BYTE_BITS = [tuple(bool(byte >> i & 1) for i in range(8)) for byte in range(256)]
"""Each byte value's eight bits, least significant first (``member_bits``' order)."""


def unpack_bits(data: bytes, n: int) -> list[bool]:
    """The first ``n`` bits of ``data``, least significant bit of each byte first."""
    bits = list(itertools.chain.from_iterable(map(_BYTE_BITS.__getitem__, data)))
    if len(bits) < n:
        raise ValueError(f"member_bits holds {len(bits)} bits, the answer needs {n}")
    return bits[:n]


class MembershipClient:
    """Membership questions about saved cohorts (needs ``Client``'s stub and ``_call``)."""

    project: str
    _stub: Any
    _call: Callable[..., Any]

    def is_member(
        self, user_id: str, cohort: str, *, as_of: AsOf = None, timeout: float | None = None
    ) -> bool:
        """Whether the user is in the saved cohort (unknown users are in none)."""
        req = pb.IsMemberRequest(project=self.project, user_id=user_id, cohort=cohort)
        if as_of is not None:
            req.as_of.FromMilliseconds(wire.to_epoch_ms(as_of))
        return bool(self._call(self._stub.IsMember, req, timeout).member)

    def check_membership(
        self,
        user_ids: Sequence[str],
        cohorts: Sequence[str],
        *,
        as_of: AsOf = None,
        timeout: float | None = None,
    ) -> list[list[bool]]:
        """Membership matrix: one row per user, one column per cohort."""
        req = pb.CheckMembershipRequest(project=self.project, user_ids=user_ids, cohorts=cohorts, packed=True)
        if as_of is not None:
            req.as_of.FromMilliseconds(wire.to_epoch_ms(as_of))
        resp = self._call(self._stub.CheckMembership, req, timeout)
        k = resp.cohorts
        if not k:
            return [[] for _ in user_ids]
        flat = list(resp.member) if resp.member else unpack_bits(resp.member_bits, resp.users * k)
        return [flat[i : i + k] for i in range(0, len(flat), k)]
