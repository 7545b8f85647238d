"""The whole personas loop over one project: features, clusters, explanations, rules, saving.

Called by ``Project.personas`` (embedded, CLI ``--data``) and by the
``Personas`` gRPC service; ``docs/personas.md`` describes every choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cohortd.errors import CohortError, InvalidArgumentError
from cohortd.lang.parser import parse_duration
from cohortd.personas import rules
from cohortd.personas.cluster import cluster as run_clustering
from cohortd.personas.cluster import parse_k
from cohortd.personas.explain import describe
from cohortd.personas.features import TOP_EVENTS, build_features
from cohortd.personas.report import Persona, PersonaReport, Stability
from cohortd.storage.segment import bitmap_from_ids
from cohortd.times import parse_as_of

if TYPE_CHECKING:
    from cohortd.service import Project
    from cohortd.service.queries import AsOf

ALL = "all"


def discover(
    project: Project,
    population: str = ALL,
    window: str = "30d",
    k: str | int = "auto",
    properties: Sequence[str] = (),
    seed: int = 0,
    as_of: AsOf = None,
    top_events: int = TOP_EVENTS,
    cluster: int | None = None,
    save_cohort: str | None = None,
    assignments: bool = False,
) -> PersonaReport:
    """Cluster ``population`` (a saved cohort's name or ``"all"``) on its behaviour in ``window``.

    With ``save_cohort``, the rule of ``cluster`` is saved as a cohort of that name.
    """
    if save_cohort is not None and cluster is None:
        raise InvalidArgumentError("--save-cohort needs --cluster: which persona to save")
    if top_events < 1:
        raise InvalidArgumentError(f"top events must be at least 1, got {top_events}")
    try:
        duration = parse_duration(window)
    except CohortError as exc:
        raise InvalidArgumentError(f"window {window!r} is not a duration like 30d ({exc})") from exc
    k_range = parse_k(k)
    ms = parse_as_of(as_of)
    ms = project.engine.clock() if ms is None else ms
    if population == ALL:
        members = project.engine.known_users(ms)
        population_cohort = None
    else:
        members = project.evaluate(name=population, as_of=ms).bitmap
        population_cohort = population
    props = [p.strip() for p in properties if p.strip()]
    features = build_features(project.engine, members, ms - duration.ms, ms, top_events, props)
    if not features.event_types:
        raise InvalidArgumentError(
            f"population too small to cluster: none of its {features.population_size:,} users "
            f"has an event in the last {window}"
        )
    result = run_clustering(features.normalised(), k_range, seed)
    explained = describe(features, result.labels, result.k)
    personas = []
    for c, (behaviours, prop_mix, name) in enumerate(explained):
        rows = np.flatnonzero(result.labels == c)
        rule = None
        expr = rules.rule_expr(
            rules.fit_paths(features, result.labels, c, seed), features, duration, population_cohort
        )
        if expr is not None:
            cluster_members = bitmap_from_ids(features.users[rows])
            rule = rules.score(
                expr,
                cluster_members,
                lambda text: project.evaluate(definition=text, as_of=ms).bitmap,
            )
        personas.append(
            Persona(
                cluster=c,
                name=name,
                size=len(rows),
                share=len(rows) / len(features.users),
                behaviours=behaviours,
                properties=prop_mix,
                rule=rule,
            )
        )
    saved = None
    if cluster is not None:
        if not 0 <= cluster < result.k:
            raise InvalidArgumentError(f"cluster {cluster} does not exist: clusters are 0..{result.k - 1}")
        chosen = personas[cluster]
        if save_cohort is not None:
            if chosen.rule is None:
                raise InvalidArgumentError(
                    f"cluster {cluster} has no rule to save (no tree leaf predicts it)"
                )
            project.create_cohort(
                save_cohort,
                chosen.rule.definition,
                description=f"Persona {chosen.name!r}: cluster {cluster} of {population} over {window}",
                note=(
                    f"personas seed {seed}, k {result.k}: precision {chosen.rule.precision:.3f}, "
                    f"recall {chosen.rule.recall:.3f}, F1 {chosen.rule.f1:.3f}"
                ),
            )
            saved = save_cohort
    ari = result.ari
    report = PersonaReport(
        population=population,
        window=f"{duration.value}{duration.unit}",
        as_of_ms=ms,
        population_size=features.population_size,
        clustered_users=len(features.users),
        event_types=features.event_types,
        properties=props,
        seed=seed,
        k=result.k,
        k_criterion=result.criterion,
        silhouette=result.silhouette,
        stability=Stability("bootstrap", len(ari), ari, float(np.mean(ari)), float(np.min(ari))),
        personas=personas,
        saved_cohort=saved,
    )
    if assignments:
        report.assignments = (
            project.engine.external_ids(features.users),
            result.labels.astype(int).tolist(),
        )
    return report
