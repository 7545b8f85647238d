"""The service layer: projects, saved cohorts and queries over one data directory.

Both the gRPC servicer and the embedded API call this, so the meaning of every
operation lives in one place and the transports only translate.

* :mod:`~cohortd.service.workspace`: the data directory and its projects;
* :mod:`~cohortd.service.project`: one project's engine, catalog and writes;
* :mod:`~cohortd.service.registry`: saved cohorts and their reference graph;
* :mod:`~cohortd.service.cache`: results at explicit as-of times;
* :mod:`~cohortd.service.queries`: evaluate, members, membership, overlap, changes.
"""

from __future__ import annotations

from cohortd.service.project import PERCENTILE_INTERVAL_MS, Project
from cohortd.service.workspace import Workspace

__all__ = ["PERCENTILE_INTERVAL_MS", "Project", "Workspace"]
