import datetime

from cohortd.v1 import cohortd_pb2 as _cohortd_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BacktestRequest(_message.Message):
    __slots__ = ("project", "cohort", "outcome", "as_of", "horizon", "baseline", "baseline_cohort", "every", "to")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_COHORT_FIELD_NUMBER: _ClassVar[int]
    EVERY_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    project: str
    cohort: _cohortd_pb2.Target
    outcome: _cohortd_pb2.Target
    as_of: _timestamp_pb2.Timestamp
    horizon: str
    baseline: str
    baseline_cohort: _cohortd_pb2.Target
    every: str
    to: _timestamp_pb2.Timestamp
    def __init__(self, project: _Optional[str] = ..., cohort: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., outcome: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., horizon: _Optional[str] = ..., baseline: _Optional[str] = ..., baseline_cohort: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., every: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., **kwargs) -> None: ...

class BacktestGroup(_message.Message):
    __slots__ = ("size", "converted", "rate")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    size: int
    converted: int
    rate: float
    def __init__(self, size: _Optional[int] = ..., converted: _Optional[int] = ..., rate: _Optional[float] = ...) -> None: ...

class BacktestRun(_message.Message):
    __slots__ = ("as_of", "horizon", "cohort", "baseline", "lift", "difference", "ci95_low", "ci95_high", "p_value", "test", "baseline_kind", "warnings")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    LIFT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    CI95_LOW_FIELD_NUMBER: _ClassVar[int]
    CI95_HIGH_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    BASELINE_KIND_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    horizon: str
    cohort: BacktestGroup
    baseline: BacktestGroup
    lift: float
    difference: float
    ci95_low: float
    ci95_high: float
    p_value: float
    test: str
    baseline_kind: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., horizon: _Optional[str] = ..., cohort: _Optional[_Union[BacktestGroup, _Mapping]] = ..., baseline: _Optional[_Union[BacktestGroup, _Mapping]] = ..., lift: _Optional[float] = ..., difference: _Optional[float] = ..., ci95_low: _Optional[float] = ..., ci95_high: _Optional[float] = ..., p_value: _Optional[float] = ..., test: _Optional[str] = ..., baseline_kind: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class BacktestResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[BacktestRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[BacktestRun, _Mapping]]] = ...) -> None: ...

class RetentionRequest(_message.Message):
    __slots__ = ("project", "population", "start_event", "return_event", "to", "as_of", "period", "periods", "unbounded", "baseline", "baseline_cohort")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    START_EVENT_FIELD_NUMBER: _ClassVar[int]
    RETURN_EVENT_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    UNBOUNDED_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_COHORT_FIELD_NUMBER: _ClassVar[int]
    project: str
    population: _cohortd_pb2.Target
    start_event: str
    return_event: str
    to: _timestamp_pb2.Timestamp
    as_of: _timestamp_pb2.Timestamp
    period: str
    periods: int
    unbounded: bool
    baseline: str
    baseline_cohort: _cohortd_pb2.Target
    def __init__(self, project: _Optional[str] = ..., population: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., start_event: _Optional[str] = ..., return_event: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period: _Optional[str] = ..., periods: _Optional[int] = ..., unbounded: _Optional[bool] = ..., baseline: _Optional[str] = ..., baseline_cohort: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., **kwargs) -> None: ...

class RetentionPoint(_message.Message):
    __slots__ = ("period", "users", "retained", "rate")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    RETAINED_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    period: int
    users: int
    retained: int
    rate: float
    def __init__(self, period: _Optional[int] = ..., users: _Optional[int] = ..., retained: _Optional[int] = ..., rate: _Optional[float] = ...) -> None: ...

class RetentionCurve(_message.Message):
    __slots__ = ("users", "curve")
    USERS_FIELD_NUMBER: _ClassVar[int]
    CURVE_FIELD_NUMBER: _ClassVar[int]
    users: int
    curve: _containers.RepeatedCompositeFieldContainer[RetentionPoint]
    def __init__(self, users: _Optional[int] = ..., curve: _Optional[_Iterable[_Union[RetentionPoint, _Mapping]]] = ...) -> None: ...

class RetentionResponse(_message.Message):
    __slots__ = ("period", "mode", "population", "baseline", "as_of")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    period: str
    mode: str
    population: RetentionCurve
    baseline: RetentionCurve
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, period: _Optional[str] = ..., mode: _Optional[str] = ..., population: _Optional[_Union[RetentionCurve, _Mapping]] = ..., baseline: _Optional[_Union[RetentionCurve, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FunnelRequest(_message.Message):
    __slots__ = ("project", "steps", "to", "as_of", "window", "population", "split_cohort", "split_property")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    SPLIT_COHORT_FIELD_NUMBER: _ClassVar[int]
    SPLIT_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    project: str
    steps: _containers.RepeatedScalarFieldContainer[str]
    to: _timestamp_pb2.Timestamp
    as_of: _timestamp_pb2.Timestamp
    window: str
    population: _cohortd_pb2.Target
    split_cohort: _cohortd_pb2.Target
    split_property: str
    def __init__(self, project: _Optional[str] = ..., steps: _Optional[_Iterable[str]] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window: _Optional[str] = ..., population: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., split_cohort: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., split_property: _Optional[str] = ..., **kwargs) -> None: ...

class FunnelStep(_message.Message):
    __slots__ = ("event", "users", "from_previous", "from_entry", "median_ms", "p90_ms")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    FROM_PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    FROM_ENTRY_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_MS_FIELD_NUMBER: _ClassVar[int]
    P90_MS_FIELD_NUMBER: _ClassVar[int]
    event: str
    users: int
    from_previous: float
    from_entry: float
    median_ms: int
    p90_ms: int
    def __init__(self, event: _Optional[str] = ..., users: _Optional[int] = ..., from_previous: _Optional[float] = ..., from_entry: _Optional[float] = ..., median_ms: _Optional[int] = ..., p90_ms: _Optional[int] = ...) -> None: ...

class FunnelGroup(_message.Message):
    __slots__ = ("group", "steps")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    group: str
    steps: _containers.RepeatedCompositeFieldContainer[FunnelStep]
    def __init__(self, group: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[FunnelStep, _Mapping]]] = ...) -> None: ...

class FunnelSplit(_message.Message):
    __slots__ = ("by", "groups")
    BY_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    by: str
    groups: _containers.RepeatedCompositeFieldContainer[FunnelGroup]
    def __init__(self, by: _Optional[str] = ..., groups: _Optional[_Iterable[_Union[FunnelGroup, _Mapping]]] = ...) -> None: ...

class FunnelResponse(_message.Message):
    __slots__ = ("steps", "split", "as_of")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[FunnelStep]
    split: FunnelSplit
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, steps: _Optional[_Iterable[_Union[FunnelStep, _Mapping]]] = ..., split: _Optional[_Union[FunnelSplit, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JourneysRequest(_message.Message):
    __slots__ = ("project", "anchor", "to", "as_of", "after", "before", "depth", "top", "keep_repeats", "population", "returned_within", "did")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    KEEP_REPEATS_FIELD_NUMBER: _ClassVar[int]
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    RETURNED_WITHIN_FIELD_NUMBER: _ClassVar[int]
    DID_FIELD_NUMBER: _ClassVar[int]
    project: str
    anchor: str
    to: _timestamp_pb2.Timestamp
    as_of: _timestamp_pb2.Timestamp
    after: str
    before: str
    depth: int
    top: int
    keep_repeats: bool
    population: _cohortd_pb2.Target
    returned_within: str
    did: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., anchor: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., after: _Optional[str] = ..., before: _Optional[str] = ..., depth: _Optional[int] = ..., top: _Optional[int] = ..., keep_repeats: _Optional[bool] = ..., population: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., returned_within: _Optional[str] = ..., did: _Optional[_Iterable[str]] = ..., **kwargs) -> None: ...

class JourneyPath(_message.Message):
    __slots__ = ("path", "users", "share")
    PATH_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    path: _containers.RepeatedScalarFieldContainer[str]
    users: int
    share: float
    def __init__(self, path: _Optional[_Iterable[str]] = ..., users: _Optional[int] = ..., share: _Optional[float] = ...) -> None: ...

class JourneyShare(_message.Message):
    __slots__ = ("what", "users", "share")
    WHAT_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    what: str
    users: int
    share: float
    def __init__(self, what: _Optional[str] = ..., users: _Optional[int] = ..., share: _Optional[float] = ...) -> None: ...

class JourneysResponse(_message.Message):
    __slots__ = ("anchor", "users", "after", "before", "returned", "did", "as_of")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    DID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    anchor: str
    users: int
    after: _containers.RepeatedCompositeFieldContainer[JourneyPath]
    before: _containers.RepeatedCompositeFieldContainer[JourneyPath]
    returned: JourneyShare
    did: _containers.RepeatedCompositeFieldContainer[JourneyShare]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, anchor: _Optional[str] = ..., users: _Optional[int] = ..., after: _Optional[_Iterable[_Union[JourneyPath, _Mapping]]] = ..., before: _Optional[_Iterable[_Union[JourneyPath, _Mapping]]] = ..., returned: _Optional[_Union[JourneyShare, _Mapping]] = ..., did: _Optional[_Iterable[_Union[JourneyShare, _Mapping]]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
