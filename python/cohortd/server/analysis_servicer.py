"""``cohortd.v1.Analysis`` over a :class:`~cohortd.service.Workspace`: translation only.

Requests become one call of the project's analysis methods
(:mod:`cohortd.analysis.service`); answers become messages through
:mod:`cohortd.analysis.messages`.  Errors are the package's exceptions,
mapped to status codes by ``server/errors.py``.
"""

from __future__ import annotations

from typing import Any

import grpc

from cohortd.analysis import messages as msg
from cohortd.errors import InvalidArgumentError
from cohortd.server.projects import read_project
from cohortd.service import Project, Workspace
from cohortd.v1 import analysis_pb2 as apb
from cohortd.v1 import analysis_pb2_grpc as apb_grpc

__all__ = ["AnalysisServicer"]


def _ms(request: Any, field: str) -> int | None:
    return getattr(request, field).ToMilliseconds() if request.HasField(field) else None


class AnalysisServicer(apb_grpc.AnalysisServicer):
    """Every RPC of ``cohortd.v1.Analysis``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _project(self, request: Any) -> Project:
        return read_project(self.workspace, request)

    def Backtest(self, request: apb.BacktestRequest, context: grpc.ServicerContext) -> apb.BacktestResponse:
        cohort, definition = msg.target_from_proto(request, "cohort")
        if cohort is None and definition is None:
            raise InvalidArgumentError("cohort: give a saved cohort name or a definition")
        outcome_name, outcome = msg.target_from_proto(request, "outcome")
        if outcome_name is not None:
            outcome = f"in_cohort({_quoted(outcome_name)})"
        base_name, base_definition = msg.target_from_proto(request, "baseline_cohort")
        result = self._project(request).backtest(
            cohort,
            definition,
            outcome=outcome,
            horizon=request.horizon,
            as_of=_ms(request, "as_of"),
            baseline=request.baseline or "rest",
            baseline_cohort=base_name,
            baseline_definition=base_definition,
            every=request.every or None,
            start=_ms(request, "from"),
            end=_ms(request, "to"),
        )
        return msg.backtest_to_proto(result)

    def Retention(
        self, request: apb.RetentionRequest, context: grpc.ServicerContext
    ) -> apb.RetentionResponse:
        cohort, definition = msg.target_from_proto(request, "population")
        base_name, base_definition = msg.target_from_proto(request, "baseline_cohort")
        result = self._project(request).retention(
            request.start_event,
            request.return_event,
            _ms(request, "from"),
            _ms(request, "to"),
            period=request.period or "1w",
            periods=request.periods or 8,
            as_of=_ms(request, "as_of"),
            cohort=cohort,
            definition=definition,
            unbounded=request.unbounded,
            baseline=request.baseline or None,
            baseline_cohort=base_name,
            baseline_definition=base_definition,
        )
        return msg.retention_to_proto(result)

    def Funnel(self, request: apb.FunnelRequest, context: grpc.ServicerContext) -> apb.FunnelResponse:
        cohort, definition = msg.target_from_proto(request, "population")
        split_name, split_definition = msg.target_from_proto(request, "split_cohort")
        result = self._project(request).funnel(
            list(request.steps),
            _ms(request, "from"),
            _ms(request, "to"),
            window=request.window or None,
            as_of=_ms(request, "as_of"),
            cohort=cohort,
            definition=definition,
            split_cohort=split_name,
            split_definition=split_definition,
            split_property=request.split_property or None,
        )
        return msg.funnel_to_proto(result)

    def Journeys(self, request: apb.JourneysRequest, context: grpc.ServicerContext) -> apb.JourneysResponse:
        cohort, definition = msg.target_from_proto(request, "population")
        result = self._project(request).journeys(
            request.anchor,
            _ms(request, "from"),
            _ms(request, "to"),
            after=request.after or "30m",
            before=request.before or "30m",
            depth=request.depth or 3,
            top=request.top or 10,
            keep_repeats=request.keep_repeats,
            as_of=_ms(request, "as_of"),
            cohort=cohort,
            definition=definition,
            returned_within=request.returned_within or None,
            did=list(request.did),
        )
        return msg.journeys_to_proto(result)


def _quoted(name: str) -> str:
    from cohortd.lang.printer import quote

    return quote(name)
