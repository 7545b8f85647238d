"""SDK method of the ``cohortd.v1.Personas`` service, mixed into :class:`cohortd.Client`.

    report = c.personas("all", "30d", "auto", properties=["plan"], seed=1)
    for p in report.personas:
        print(p.cluster, p.name, p.size, p.rule.definition, p.rule.f1)
    c.personas(k=5, seed=1, cluster=2, save_cohort="Persona: exporters")

Returns the same ``PersonaReport`` as the embedded ``Project.personas``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

from cohortd import wire
from cohortd.personas.report import Behaviour, Persona, PersonaReport, PropertyShare, Rule, Stability
from cohortd.v1 import personas_pb2 as ppb
from cohortd.v1 import personas_pb2_grpc as ppb_grpc

__all__ = ["PersonasClient", "report_from_msg"]


def report_from_msg(m: ppb.DiscoverPersonasResponse) -> PersonaReport:
    """A ``PersonaReport`` from its wire form (``server/personas.py`` writes it)."""
    personas = []
    for p in m.personas:
        behaviours = [
            Behaviour(b.event_type, b.cluster_mean, b.cluster_std, b.population_mean, b.population_std,
                      b.ratio, b.direction)
            for b in p.behaviours
        ]  # fmt: skip
        props = [
            PropertyShare(s.property, getattr(s, s.WhichOneof("value") or "string_value"), s.cluster_share,
                          s.population_share)
            for s in p.properties
        ]  # fmt: skip
        rule = None
        if p.HasField("rule"):
            rule = Rule(p.rule.definition, p.rule.size, p.rule.precision, p.rule.recall, p.rule.f1)
        personas.append(Persona(p.cluster, p.name, p.size, p.share, behaviours, props, rule))
    s = m.stability
    report = PersonaReport(
        population=m.population,
        window=m.window,
        as_of_ms=m.as_of_ms,
        population_size=m.population_size,
        clustered_users=m.clustered_users,
        event_types=list(m.event_types),
        properties=list(m.properties),
        seed=m.seed,
        k=m.k,
        k_criterion=m.k_criterion,
        silhouette=dict(sorted(m.silhouette.items())),
        stability=Stability(s.method, s.resamples, list(s.ari), s.ari_mean, s.ari_min),
        personas=personas,
        saved_cohort=m.saved_cohort or None,
    )
    if m.assignment_user_ids or m.assignment_clusters:
        report.assignments = (list(m.assignment_user_ids), list(m.assignment_clusters))
    return report


class PersonasClient:
    """``personas`` (needs ``Client``'s channel and ``_call``)."""

    project: str
    _channel: grpc.Channel
    _call: Callable[..., Any]

    @property
    def _personas(self) -> ppb_grpc.PersonasStub:
        stub = self.__dict__.get("_personas_stub")
        if stub is None:
            stub = self.__dict__["_personas_stub"] = ppb_grpc.PersonasStub(self._channel)
        return stub

    def personas(
        self,
        population: str = "all",
        window: str = "30d",
        k: str | int = "auto",
        *,
        properties: Sequence[str] = (),
        seed: int = 0,
        as_of: Any = None,
        top_events: int = 100,
        cluster: int | None = None,
        save_cohort: str | None = None,
        assignments: bool = False,
        timeout: float | None = None,
    ) -> PersonaReport:
        """Behavioural groups of ``population`` (a saved cohort or "all"), each explained with a rule.

        ``cluster`` + ``save_cohort`` save that persona's rule as a cohort; ``assignments``
        fills ``report.assignments`` with (user ids, cluster numbers).
        """
        req = ppb.DiscoverPersonasRequest(
            project=self.project,
            population=population,
            window=window,
            k=str(k),
            properties=list(properties),
            seed=seed,
            top_events=top_events,
            save_cohort=save_cohort or "",
            include_assignments=assignments,
        )
        if as_of is not None:
            req.as_of.FromMilliseconds(wire.to_epoch_ms(as_of))
        if cluster is not None:
            req.cluster = cluster
        return report_from_msg(self._call(self._personas.Discover, req, timeout, retry=False))
