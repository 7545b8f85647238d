"""Know-your-data on a cluster: the schema and population series merged from the shards.

* **schema**: every shard describes its data with all its values (not only its
  top ones).  Events, users (a user is on one shard), last-7/30-day counts and
  property presence add; first/last seen are the min/max; value counts add and
  the top values are picked from the sums, ties by value, as in one process.
* **population**: sizes, entries and exits add at every point (each user's
  membership is decided on its shard).  A cohort with a percentile is refused.

Breakdowns, the catalog audit and the data lint are not merged yet
(``NotInClusterError``): a breakdown's ``(other)`` row needs each shard's base
counts of every value, including values no member has.
"""

from __future__ import annotations

from typing import Any

from cohortd.analysis.population import Point, Population
from cohortd.cluster.face import ProjectFace
from cohortd.errors import NotInClusterError

__all__ = ["ClusterKnow", "merge_schemas"]

ALL_VALUES = 2**31 - 1
"""``top_values`` sent to the shards: every value, so counts can add."""


def _order(value: Any) -> tuple[int, Any]:
    """Numbers and bools before strings (``engine.schema``'s tie order of top values)."""
    return (1, value) if isinstance(value, str) else (0, float(value))


def _merge_property(parts: list[tuple[dict[str, Any], int]], whole: int, top: int) -> dict[str, Any]:
    """One property over the shards: (shard's property doc, the shard's denominator) pairs, and the
    cluster's denominator (the event type's events, or every user)."""
    counts: dict[Any, int] = {}
    present = 0
    for doc, part in parts:
        present += round(doc["present"] * max(part, 1))  # the share's numerator back (exact counts)
        for v in doc["top_values"]:
            counts[v["value"]] = counts.get(v["value"], 0) + v["count"]
    values = sorted(counts.items(), key=lambda vc: (-vc[1], _order(vc[0])))[:top]
    return {
        "name": parts[0][0]["name"],
        "type": parts[0][0]["type"],
        "present": present / max(whole, 1),
        "top_values": [{"value": v, "count": c} for v, c in values],
    }


def merge_schemas(shards: list[tuple[dict[str, Any], int]], top: int) -> dict[str, Any]:
    """The ``cohortd schema`` document of the whole cluster from (shard document, shard users)."""
    types: dict[str, list[dict[str, Any]]] = {}
    for doc, _ in shards:
        for et in doc["event_types"]:
            types.setdefault(et["name"], []).append(et)
    event_types = []
    for name, parts in types.items():
        props: dict[str, list[tuple[dict[str, Any], int]]] = {}
        for et in parts:
            for p in et["properties"]:
                props.setdefault(p["name"], []).append((p, et["events"]))
        events = sum(et["events"] for et in parts)
        event_types.append(
            {
                "name": name,
                "events": events,
                "users": sum(et["users"] for et in parts),
                "first_seen": min(et["first_seen"] for et in parts),
                "last_seen": max(et["last_seen"] for et in parts),
                "last_7d": sum(et["last_7d"] for et in parts),
                "last_30d": sum(et["last_30d"] for et in parts),
                "properties": [_merge_property(props[p], events, top) for p in sorted(props)],
            }
        )
    event_types.sort(key=lambda e: (-e["events"], e["name"]))
    users: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for doc, n_users in shards:
        for p in doc["user_properties"]:
            users.setdefault(p["name"], []).append((p, n_users))
    everyone = sum(n for _, n in shards)
    user_properties = [_merge_property(users[name], everyone, top) for name in sorted(users)]
    return {"event_types": event_types, "user_properties": user_properties}


class ClusterKnow(ProjectFace):
    """The know-your-data methods of a cluster project (mixed into ``ClusterProject``)."""

    def schema(self, top_values: int = 10) -> dict[str, Any]:
        """The schema document of every shard's data, merged (counts add, top values from the sums)."""
        now = self._clock()
        answers = self.shards.all("schema_document", self.name, now, ALL_VALUES)
        return merge_schemas([answers[s] for s in range(self.shards.count)], int(top_values))

    def population(self, name: str | None = None, definition: Any = None, **kw: Any) -> Population:
        """Size, entries and exits at every point, added over the shards."""
        self._check_target(name, definition)
        if self._tops(name, definition):
            raise NotInClusterError(
                "a population series of a top P% cohort is not available on a cluster yet "
                "(each shard would apply its own threshold at every point)"
            )
        answers = self.shards.all("population", self.name, name, definition, kw)
        series = [answers[s] for s in range(self.shards.count)]
        points = [
            Point(p[0].as_of_ms, sum(x.size for x in p), sum(x.entered for x in p), sum(x.exited for x in p))
            for p in zip(*(s.points for s in series), strict=True)
        ]
        return Population(series[0].cohort, points)

    def breakdown(self, *args: Any, **kw: Any) -> Any:
        raise NotInClusterError(
            "breakdowns are not available on a cluster yet: the (other) row needs every shard's "
            "base count of every value (not built)"
        )

    def audit(self, *args: Any, **kw: Any) -> Any:
        raise NotInClusterError("the catalog audit is not available on a cluster yet")
