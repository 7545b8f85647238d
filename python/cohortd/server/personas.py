"""``cohortd.v1.Personas`` over a :class:`~cohortd.service.Workspace`: translation only.

The work is ``Project.personas`` (``cohortd.personas``); a population too
small to cluster, a bad window or K are ``InvalidArgumentError``
(INVALID_ARGUMENT), an unknown cohort or property NOT_FOUND, a taken
``save_cohort`` name ALREADY_EXISTS, all mapped by ``server/errors.py``.
"""

from __future__ import annotations

import grpc

from cohortd.personas.report import PersonaReport
from cohortd.server.projects import read_project
from cohortd.service import Workspace
from cohortd.v1 import personas_pb2 as pb
from cohortd.v1 import personas_pb2_grpc as pb_grpc

__all__ = ["PERSONAS_SERVICE", "PersonasServicer", "report_msg"]

PERSONAS_SERVICE = pb.DESCRIPTOR.services_by_name["Personas"].full_name


def report_msg(r: PersonaReport, out: pb.DiscoverPersonasResponse) -> pb.DiscoverPersonasResponse:
    """The wire form of a report (``client/personas.py`` reads it back)."""
    out.population, out.window, out.as_of_ms = r.population, r.window, r.as_of_ms
    out.population_size, out.clustered_users = r.population_size, r.clustered_users
    out.event_types.extend(r.event_types)
    out.properties.extend(r.properties)
    out.seed, out.k, out.k_criterion = r.seed, r.k, r.k_criterion
    for k, score in r.silhouette.items():
        out.silhouette[k] = score
    s = r.stability
    out.stability.method, out.stability.resamples = s.method, s.resamples
    out.stability.ari.extend(s.ari)
    out.stability.ari_mean, out.stability.ari_min = s.ari_mean, s.ari_min
    for p in r.personas:
        m = out.personas.add(cluster=p.cluster, name=p.name, size=p.size, share=p.share)
        for b in p.behaviours:
            m.behaviours.add(**{f: getattr(b, f) for f in pb.PersonaBehaviour.DESCRIPTOR.fields_by_name})
        for ps in p.properties:
            share = m.properties.add(
                property=ps.property, cluster_share=ps.cluster_share, population_share=ps.population_share
            )
            if isinstance(ps.value, bool):
                share.bool_value = ps.value
            else:
                share.string_value = ps.value
        if p.rule is not None:
            rule = p.rule
            m.rule.definition, m.rule.size = rule.definition, rule.size
            m.rule.precision, m.rule.recall, m.rule.f1 = rule.precision, rule.recall, rule.f1
    out.saved_cohort = r.saved_cohort or ""
    if r.assignments is not None:
        out.assignment_user_ids.extend(r.assignments[0])
        out.assignment_clusters.extend(r.assignments[1])
    return out


class PersonasServicer(pb_grpc.PersonasServicer):
    """Every RPC of ``cohortd.v1.Personas``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def Discover(
        self, request: pb.DiscoverPersonasRequest, context: grpc.ServicerContext
    ) -> pb.DiscoverPersonasResponse:
        project = read_project(self.workspace, request)
        report = project.personas(
            request.population or "all",
            request.window or "30d",
            request.k or "auto",
            properties=list(request.properties),
            seed=request.seed,
            as_of=request.as_of.ToMilliseconds() if request.HasField("as_of") else None,
            top_events=request.top_events or 100,
            cluster=request.cluster if request.HasField("cluster") else None,
            save_cohort=request.save_cohort or None,
            assignments=request.include_assignments,
        )
        return report_msg(report, pb.DiscoverPersonasResponse())
