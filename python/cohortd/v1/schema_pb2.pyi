import datetime

from cohortd.v1 import cohortd_pb2 as _cohortd_pb2
from cohortd.v1 import expr_pb2 as _expr_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetSchemaRequest(_message.Message):
    __slots__ = ("project", "top_values")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TOP_VALUES_FIELD_NUMBER: _ClassVar[int]
    project: str
    top_values: int
    def __init__(self, project: _Optional[str] = ..., top_values: _Optional[int] = ...) -> None: ...

class ValueCount(_message.Message):
    __slots__ = ("value", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: _expr_pb2.Value
    count: int
    def __init__(self, value: _Optional[_Union[_expr_pb2.Value, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class PropertyInfo(_message.Message):
    __slots__ = ("name", "type", "present", "top_values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    TOP_VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    present: float
    top_values: _containers.RepeatedCompositeFieldContainer[ValueCount]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., present: _Optional[float] = ..., top_values: _Optional[_Iterable[_Union[ValueCount, _Mapping]]] = ...) -> None: ...

class EventTypeInfo(_message.Message):
    __slots__ = ("name", "events", "users", "first_seen", "last_seen", "last_7d", "last_30d", "properties")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_7D_FIELD_NUMBER: _ClassVar[int]
    LAST_30D_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    events: int
    users: int
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    last_7d: int
    last_30d: int
    properties: _containers.RepeatedCompositeFieldContainer[PropertyInfo]
    def __init__(self, name: _Optional[str] = ..., events: _Optional[int] = ..., users: _Optional[int] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_7d: _Optional[int] = ..., last_30d: _Optional[int] = ..., properties: _Optional[_Iterable[_Union[PropertyInfo, _Mapping]]] = ...) -> None: ...

class GetSchemaResponse(_message.Message):
    __slots__ = ("event_types", "user_properties")
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    USER_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    event_types: _containers.RepeatedCompositeFieldContainer[EventTypeInfo]
    user_properties: _containers.RepeatedCompositeFieldContainer[PropertyInfo]
    def __init__(self, event_types: _Optional[_Iterable[_Union[EventTypeInfo, _Mapping]]] = ..., user_properties: _Optional[_Iterable[_Union[PropertyInfo, _Mapping]]] = ...) -> None: ...

class BreakdownRequest(_message.Message):
    __slots__ = ("project", "target", "as_of", "by", "window", "pick", "top", "by_cohorts")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    PICK_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    BY_COHORTS_FIELD_NUMBER: _ClassVar[int]
    project: str
    target: _cohortd_pb2.Target
    as_of: _timestamp_pb2.Timestamp
    by: str
    window: str
    pick: str
    top: int
    by_cohorts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project: _Optional[str] = ..., target: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., by: _Optional[str] = ..., window: _Optional[str] = ..., pick: _Optional[str] = ..., top: _Optional[int] = ..., by_cohorts: _Optional[_Iterable[str]] = ...) -> None: ...

class BreakdownRow(_message.Message):
    __slots__ = ("value", "members", "share", "base_share", "index")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    BASE_SHARE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    value: _expr_pb2.Value
    members: int
    share: float
    base_share: float
    index: float
    def __init__(self, value: _Optional[_Union[_expr_pb2.Value, _Mapping]] = ..., members: _Optional[int] = ..., share: _Optional[float] = ..., base_share: _Optional[float] = ..., index: _Optional[float] = ...) -> None: ...

class BreakdownResponse(_message.Message):
    __slots__ = ("cohort", "as_of", "size", "rows")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    cohort: str
    as_of: _timestamp_pb2.Timestamp
    size: int
    rows: _containers.RepeatedCompositeFieldContainer[BreakdownRow]
    def __init__(self, cohort: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., size: _Optional[int] = ..., rows: _Optional[_Iterable[_Union[BreakdownRow, _Mapping]]] = ...) -> None: ...

class PopulationRequest(_message.Message):
    __slots__ = ("project", "target", "start", "end", "step")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    project: str
    target: _cohortd_pb2.Target
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    step: str
    def __init__(self, project: _Optional[str] = ..., target: _Optional[_Union[_cohortd_pb2.Target, _Mapping]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step: _Optional[str] = ...) -> None: ...

class PopulationPoint(_message.Message):
    __slots__ = ("as_of", "size", "entered", "exited")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ENTERED_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    size: int
    entered: int
    exited: int
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., size: _Optional[int] = ..., entered: _Optional[int] = ..., exited: _Optional[int] = ...) -> None: ...

class PopulationResponse(_message.Message):
    __slots__ = ("cohort", "points")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    cohort: str
    points: _containers.RepeatedCompositeFieldContainer[PopulationPoint]
    def __init__(self, cohort: _Optional[str] = ..., points: _Optional[_Iterable[_Union[PopulationPoint, _Mapping]]] = ...) -> None: ...

class AuditRequest(_message.Message):
    __slots__ = ("project", "stale_days", "shrink_percent", "unread_days")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STALE_DAYS_FIELD_NUMBER: _ClassVar[int]
    SHRINK_PERCENT_FIELD_NUMBER: _ClassVar[int]
    UNREAD_DAYS_FIELD_NUMBER: _ClassVar[int]
    project: str
    stale_days: int
    shrink_percent: float
    unread_days: int
    def __init__(self, project: _Optional[str] = ..., stale_days: _Optional[int] = ..., shrink_percent: _Optional[float] = ..., unread_days: _Optional[int] = ...) -> None: ...

class StaleEventType(_message.Message):
    __slots__ = ("name", "last_seen", "days_silent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    DAYS_SILENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    last_seen: _timestamp_pb2.Timestamp
    days_silent: int
    def __init__(self, name: _Optional[str] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., days_silent: _Optional[int] = ...) -> None: ...

class AuditFinding(_message.Message):
    __slots__ = ("cohort", "code", "message")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    cohort: str
    code: str
    message: str
    def __init__(self, cohort: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SimilarPair(_message.Message):
    __slots__ = ("a", "b", "jaccard")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    JACCARD_FIELD_NUMBER: _ClassVar[int]
    a: str
    b: str
    jaccard: float
    def __init__(self, a: _Optional[str] = ..., b: _Optional[str] = ..., jaccard: _Optional[float] = ...) -> None: ...

class AuditResponse(_message.Message):
    __slots__ = ("as_of", "stale_event_types", "findings", "similar_pairs")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    STALE_EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    SIMILAR_PAIRS_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    stale_event_types: _containers.RepeatedCompositeFieldContainer[StaleEventType]
    findings: _containers.RepeatedCompositeFieldContainer[AuditFinding]
    similar_pairs: _containers.RepeatedCompositeFieldContainer[SimilarPair]
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stale_event_types: _Optional[_Iterable[_Union[StaleEventType, _Mapping]]] = ..., findings: _Optional[_Iterable[_Union[AuditFinding, _Mapping]]] = ..., similar_pairs: _Optional[_Iterable[_Union[SimilarPair, _Mapping]]] = ...) -> None: ...
