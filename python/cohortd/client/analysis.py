"""SDK methods of the analyses (``cohortd.v1.Analysis``), mixed into :class:`cohortd.Client`.

They take the same arguments as the embedded ``Project`` methods and return
the same values (:mod:`cohortd.analysis.results`), so code moves between
embedded and remote unchanged.  Every call is read-only, so it is retried on
``UNAVAILABLE`` like the other queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cohortd import wire
from cohortd.analysis import messages as msg
from cohortd.analysis.results import Backtest, Funnel, Journeys, Retention
from cohortd.errors import InvalidArgumentError
from cohortd.v1 import analysis_pb2 as apb
from cohortd.v1 import analysis_pb2_grpc as apb_grpc

Definition = Any


def _ts(out: Any, value: Any) -> None:
    if value is not None:
        out.FromMilliseconds(wire.to_epoch_ms(value))


class AnalysisClient:
    """Backtest, retention, funnel and journeys over gRPC (needs ``project``, ``_channel``, ``_call``)."""

    project: str
    _channel: Any
    _call: Callable[..., Any]

    @property
    def _analysis(self) -> apb_grpc.AnalysisStub:
        stub = self.__dict__.get("_analysis_stub")
        if stub is None:
            stub = self.__dict__["_analysis_stub"] = apb_grpc.AnalysisStub(self._channel)
        return stub

    def backtest(
        self,
        cohort: str | None = None,
        definition: Definition | None = None,
        *,
        outcome: Definition,
        horizon: str,
        as_of: Any = None,
        baseline: str = "rest",
        baseline_cohort: str | None = None,
        baseline_definition: Definition | None = None,
        every: str | None = None,
        start: Any = None,
        end: Any = None,
        timeout: float | None = None,
    ) -> Backtest:
        """The cohort at ``as_of`` (or every ``every`` from ``start`` to ``end``) against a baseline."""
        req = apb.BacktestRequest(project=self.project, horizon=horizon, baseline=baseline, every=every or "")
        if not msg.target_to_proto(req.cohort, cohort, definition):
            raise InvalidArgumentError("give a saved cohort name or a definition")
        msg.target_to_proto(req.outcome, None, outcome)
        msg.target_to_proto(req.baseline_cohort, baseline_cohort, baseline_definition)
        _ts(req.as_of, as_of)
        _ts(getattr(req, "from"), start)
        _ts(req.to, end)
        return msg.backtest_from_proto(self._call(self._analysis.Backtest, req, timeout))

    def retention(
        self,
        start_event: str,
        return_event: str,
        start: Any,
        end: Any,
        *,
        period: str = "1w",
        periods: int = 8,
        as_of: Any = None,
        cohort: str | None = None,
        definition: Definition | None = None,
        unbounded: bool = False,
        baseline: str | None = None,
        baseline_cohort: str | None = None,
        baseline_definition: Definition | None = None,
        timeout: float | None = None,
    ) -> Retention:
        """Retention curve of a population (default all known users) and of a baseline."""
        req = apb.RetentionRequest(
            project=self.project,
            start_event=start_event,
            return_event=return_event,
            period=period,
            periods=periods,
            unbounded=unbounded,
            baseline=baseline or "",
        )
        msg.target_to_proto(req.population, cohort, definition)
        msg.target_to_proto(req.baseline_cohort, baseline_cohort, baseline_definition)
        _ts(getattr(req, "from"), start)
        _ts(req.to, end)
        _ts(req.as_of, as_of)
        return msg.retention_from_proto(self._call(self._analysis.Retention, req, timeout))

    def funnel(
        self,
        steps: Sequence[str],
        start: Any,
        end: Any,
        *,
        window: str | None = "7d",
        as_of: Any = None,
        cohort: str | None = None,
        definition: Definition | None = None,
        split_cohort: str | None = None,
        split_definition: Definition | None = None,
        split_property: str | None = None,
        timeout: float | None = None,
    ) -> Funnel:
        """Users reaching each step, optionally split by a cohort or a current user property."""
        req = apb.FunnelRequest(
            project=self.project, steps=list(steps), window=window or "", split_property=split_property or ""
        )
        msg.target_to_proto(req.population, cohort, definition)
        msg.target_to_proto(req.split_cohort, split_cohort, split_definition)
        _ts(getattr(req, "from"), start)
        _ts(req.to, end)
        _ts(req.as_of, as_of)
        return msg.funnel_from_proto(self._call(self._analysis.Funnel, req, timeout))

    def journeys(
        self,
        anchor: str,
        start: Any,
        end: Any,
        *,
        after: str = "30m",
        before: str = "30m",
        depth: int = 3,
        top: int = 10,
        keep_repeats: bool = False,
        as_of: Any = None,
        cohort: str | None = None,
        definition: Definition | None = None,
        returned_within: str | None = None,
        did: Sequence[str] = (),
        timeout: float | None = None,
    ) -> Journeys:
        """Top paths after and before each user's first anchor event in the range."""
        req = apb.JourneysRequest(
            project=self.project,
            anchor=anchor,
            after=after,
            before=before,
            depth=depth,
            top=top,
            keep_repeats=keep_repeats,
            returned_within=returned_within or "",
            did=list(did),
        )
        msg.target_to_proto(req.population, cohort, definition)
        _ts(getattr(req, "from"), start)
        _ts(req.to, end)
        _ts(req.as_of, as_of)
        return msg.journeys_from_proto(self._call(self._analysis.Journeys, req, timeout))
