import datetime

from cohortd.v1 import expr_pb2 as _expr_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("user_id", "event_type", "time_ms", "timestamp", "properties", "user_properties", "anonymous_id", "previous_id", "groups", "group_properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _expr_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_expr_pb2.Value, _Mapping]] = ...) -> None: ...
    class UserPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _expr_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_expr_pb2.Value, _Mapping]] = ...) -> None: ...
    class GroupsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class GroupPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _expr_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_expr_pb2.Value, _Mapping]] = ...) -> None: ...
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    USER_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ID_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    GROUP_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    event_type: str
    time_ms: int
    timestamp: _timestamp_pb2.Timestamp
    properties: _containers.MessageMap[str, _expr_pb2.Value]
    user_properties: _containers.MessageMap[str, _expr_pb2.Value]
    anonymous_id: str
    previous_id: str
    groups: _containers.ScalarMap[str, str]
    group_properties: _containers.MessageMap[str, _expr_pb2.Value]
    def __init__(self, user_id: _Optional[str] = ..., event_type: _Optional[str] = ..., time_ms: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., properties: _Optional[_Mapping[str, _expr_pb2.Value]] = ..., user_properties: _Optional[_Mapping[str, _expr_pb2.Value]] = ..., anonymous_id: _Optional[str] = ..., previous_id: _Optional[str] = ..., groups: _Optional[_Mapping[str, str]] = ..., group_properties: _Optional[_Mapping[str, _expr_pb2.Value]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("project", "events", "arrow_ipc")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    project: str
    events: _containers.RepeatedCompositeFieldContainer[Event]
    arrow_ipc: bytes
    def __init__(self, project: _Optional[str] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., arrow_ipc: _Optional[bytes] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("row", "field", "reason")
    ROW_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    row: int
    field: str
    reason: str
    def __init__(self, row: _Optional[int] = ..., field: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("accepted", "rejections")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    rejections: _containers.RepeatedCompositeFieldContainer[Rejection]
    def __init__(self, accepted: _Optional[int] = ..., rejections: _Optional[_Iterable[_Union[Rejection, _Mapping]]] = ...) -> None: ...

class UserProperties(_message.Message):
    __slots__ = ("user_id", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _expr_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_expr_pb2.Value, _Mapping]] = ...) -> None: ...
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    properties: _containers.MessageMap[str, _expr_pb2.Value]
    def __init__(self, user_id: _Optional[str] = ..., properties: _Optional[_Mapping[str, _expr_pb2.Value]] = ...) -> None: ...

class UpsertUserPropertiesRequest(_message.Message):
    __slots__ = ("project", "users", "arrow_ipc")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    project: str
    users: _containers.RepeatedCompositeFieldContainer[UserProperties]
    arrow_ipc: bytes
    def __init__(self, project: _Optional[str] = ..., users: _Optional[_Iterable[_Union[UserProperties, _Mapping]]] = ..., arrow_ipc: _Optional[bytes] = ...) -> None: ...

class Cohort(_message.Message):
    __slots__ = ("name", "description", "definition_text", "definition_expr", "version", "created", "updated", "last_evaluated", "archived", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_TEXT_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_EXPR_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    LAST_EVALUATED_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    definition_text: str
    definition_expr: _expr_pb2.CohortExpr
    version: int
    created: _timestamp_pb2.Timestamp
    updated: _timestamp_pb2.Timestamp
    last_evaluated: _timestamp_pb2.Timestamp
    archived: bool
    error: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., definition_text: _Optional[str] = ..., definition_expr: _Optional[_Union[_expr_pb2.CohortExpr, _Mapping]] = ..., version: _Optional[int] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_evaluated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., archived: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class LintWarning(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class CreateCohortRequest(_message.Message):
    __slots__ = ("project", "name", "definition", "description", "note")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    definition: _expr_pb2.Definition
    description: str
    note: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., definition: _Optional[_Union[_expr_pb2.Definition, _Mapping]] = ..., description: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class CreateCohortResponse(_message.Message):
    __slots__ = ("cohort", "warnings")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    cohort: Cohort
    warnings: _containers.RepeatedCompositeFieldContainer[LintWarning]
    def __init__(self, cohort: _Optional[_Union[Cohort, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[LintWarning, _Mapping]]] = ...) -> None: ...

class UpdateCohortRequest(_message.Message):
    __slots__ = ("project", "name", "definition", "description", "note")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    definition: _expr_pb2.Definition
    description: str
    note: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., definition: _Optional[_Union[_expr_pb2.Definition, _Mapping]] = ..., description: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class UpdateCohortResponse(_message.Message):
    __slots__ = ("cohort", "warnings")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    cohort: Cohort
    warnings: _containers.RepeatedCompositeFieldContainer[LintWarning]
    def __init__(self, cohort: _Optional[_Union[Cohort, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[LintWarning, _Mapping]]] = ...) -> None: ...

class GetCohortRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetCohortResponse(_message.Message):
    __slots__ = ("cohort",)
    COHORT_FIELD_NUMBER: _ClassVar[int]
    cohort: Cohort
    def __init__(self, cohort: _Optional[_Union[Cohort, _Mapping]] = ...) -> None: ...

class ListCohortsRequest(_message.Message):
    __slots__ = ("project", "include_archived")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    project: str
    include_archived: bool
    def __init__(self, project: _Optional[str] = ..., include_archived: _Optional[bool] = ...) -> None: ...

class ListCohortsResponse(_message.Message):
    __slots__ = ("cohorts",)
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    cohorts: _containers.RepeatedCompositeFieldContainer[Cohort]
    def __init__(self, cohorts: _Optional[_Iterable[_Union[Cohort, _Mapping]]] = ...) -> None: ...

class ArchiveCohortRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ArchiveCohortResponse(_message.Message):
    __slots__ = ("cohort",)
    COHORT_FIELD_NUMBER: _ClassVar[int]
    cohort: Cohort
    def __init__(self, cohort: _Optional[_Union[Cohort, _Mapping]] = ...) -> None: ...

class CohortHistoryRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CohortVersion(_message.Message):
    __slots__ = ("version", "definition_text", "definition_expr", "description", "time", "note")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_TEXT_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_EXPR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    version: int
    definition_text: str
    definition_expr: _expr_pb2.CohortExpr
    description: str
    time: _timestamp_pb2.Timestamp
    note: str
    def __init__(self, version: _Optional[int] = ..., definition_text: _Optional[str] = ..., definition_expr: _Optional[_Union[_expr_pb2.CohortExpr, _Mapping]] = ..., description: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class CohortHistoryResponse(_message.Message):
    __slots__ = ("name", "versions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    versions: _containers.RepeatedCompositeFieldContainer[CohortVersion]
    def __init__(self, name: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[CohortVersion, _Mapping]]] = ...) -> None: ...

class Target(_message.Message):
    __slots__ = ("cohort", "definition")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    cohort: str
    definition: _expr_pb2.Definition
    def __init__(self, cohort: _Optional[str] = ..., definition: _Optional[_Union[_expr_pb2.Definition, _Mapping]] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("project", "target", "as_of")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    project: str
    target: Target
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, project: _Optional[str] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("size", "as_of", "version", "warnings")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    size: int
    as_of: _timestamp_pb2.Timestamp
    version: int
    warnings: _containers.RepeatedCompositeFieldContainer[LintWarning]
    def __init__(self, size: _Optional[int] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., warnings: _Optional[_Iterable[_Union[LintWarning, _Mapping]]] = ...) -> None: ...

class MembersRequest(_message.Message):
    __slots__ = ("project", "target", "as_of", "page_size", "start_after")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    project: str
    target: Target
    as_of: _timestamp_pb2.Timestamp
    page_size: int
    start_after: str
    def __init__(self, project: _Optional[str] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., start_after: _Optional[str] = ...) -> None: ...

class MembersPage(_message.Message):
    __slots__ = ("user_ids", "total", "as_of", "version")
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    total: int
    as_of: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ..., total: _Optional[int] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class IsMemberRequest(_message.Message):
    __slots__ = ("project", "user_id", "cohort", "as_of")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    project: str
    user_id: str
    cohort: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, project: _Optional[str] = ..., user_id: _Optional[str] = ..., cohort: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IsMemberResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: bool
    def __init__(self, member: _Optional[bool] = ...) -> None: ...

class CheckMembershipRequest(_message.Message):
    __slots__ = ("project", "user_ids", "cohorts", "as_of", "packed")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    project: str
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    as_of: _timestamp_pb2.Timestamp
    packed: bool
    def __init__(self, project: _Optional[str] = ..., user_ids: _Optional[_Iterable[str]] = ..., cohorts: _Optional[_Iterable[str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., packed: _Optional[bool] = ...) -> None: ...

class CheckMembershipResponse(_message.Message):
    __slots__ = ("member", "users", "cohorts", "member_bits")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_BITS_FIELD_NUMBER: _ClassVar[int]
    member: _containers.RepeatedScalarFieldContainer[bool]
    users: int
    cohorts: int
    member_bits: bytes
    def __init__(self, member: _Optional[_Iterable[bool]] = ..., users: _Optional[int] = ..., cohorts: _Optional[int] = ..., member_bits: _Optional[bytes] = ...) -> None: ...

class UserCohortsRequest(_message.Message):
    __slots__ = ("project", "user_id", "as_of")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    project: str
    user_id: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, project: _Optional[str] = ..., user_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UserCohortsResponse(_message.Message):
    __slots__ = ("cohorts",)
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cohorts: _Optional[_Iterable[str]] = ...) -> None: ...

class OverlapRequest(_message.Message):
    __slots__ = ("project", "cohorts", "as_of")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    project: str
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, project: _Optional[str] = ..., cohorts: _Optional[_Iterable[str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Int64Row(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class DoubleRow(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class OverlapResponse(_message.Message):
    __slots__ = ("names", "sizes", "intersections", "jaccard")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    SIZES_FIELD_NUMBER: _ClassVar[int]
    INTERSECTIONS_FIELD_NUMBER: _ClassVar[int]
    JACCARD_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    sizes: _containers.RepeatedScalarFieldContainer[int]
    intersections: _containers.RepeatedCompositeFieldContainer[Int64Row]
    jaccard: _containers.RepeatedCompositeFieldContainer[DoubleRow]
    def __init__(self, names: _Optional[_Iterable[str]] = ..., sizes: _Optional[_Iterable[int]] = ..., intersections: _Optional[_Iterable[_Union[Int64Row, _Mapping]]] = ..., jaccard: _Optional[_Iterable[_Union[DoubleRow, _Mapping]]] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("project", "target", "as_of")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    project: str
    target: Target
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, project: _Optional[str] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PlanStep(_message.Message):
    __slots__ = ("text", "size", "millis", "depth")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MILLIS_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    text: str
    size: int
    millis: float
    depth: int
    def __init__(self, text: _Optional[str] = ..., size: _Optional[int] = ..., millis: _Optional[float] = ..., depth: _Optional[int] = ...) -> None: ...

class ExplainResponse(_message.Message):
    __slots__ = ("steps", "text", "warnings")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[PlanStep]
    text: str
    warnings: _containers.RepeatedCompositeFieldContainer[LintWarning]
    def __init__(self, steps: _Optional[_Iterable[_Union[PlanStep, _Mapping]]] = ..., text: _Optional[str] = ..., warnings: _Optional[_Iterable[_Union[LintWarning, _Mapping]]] = ...) -> None: ...

class LintRequest(_message.Message):
    __slots__ = ("project", "definition", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    definition: _expr_pb2.Definition
    name: str
    def __init__(self, project: _Optional[str] = ..., definition: _Optional[_Union[_expr_pb2.Definition, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class LintResponse(_message.Message):
    __slots__ = ("warnings", "text")
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    warnings: _containers.RepeatedCompositeFieldContainer[LintWarning]
    text: str
    def __init__(self, warnings: _Optional[_Iterable[_Union[LintWarning, _Mapping]]] = ..., text: _Optional[str] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("project", "cohorts", "from_version")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    project: str
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    from_version: int
    def __init__(self, project: _Optional[str] = ..., cohorts: _Optional[_Iterable[str]] = ..., from_version: _Optional[int] = ...) -> None: ...

class CohortChange(_message.Message):
    __slots__ = ("cohort", "version", "time_ms", "entered", "exited")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    ENTERED_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    cohort: str
    version: int
    time_ms: int
    entered: _containers.RepeatedScalarFieldContainer[str]
    exited: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cohort: _Optional[str] = ..., version: _Optional[int] = ..., time_ms: _Optional[int] = ..., entered: _Optional[_Iterable[str]] = ..., exited: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("version", "change")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    version: int
    change: CohortChange
    def __init__(self, version: _Optional[int] = ..., change: _Optional[_Union[CohortChange, _Mapping]] = ...) -> None: ...

class ChangesRequest(_message.Message):
    __slots__ = ("project", "cohorts", "from_version", "to_version")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    project: str
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    from_version: int
    to_version: int
    def __init__(self, project: _Optional[str] = ..., cohorts: _Optional[_Iterable[str]] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ...) -> None: ...

class ChangesResponse(_message.Message):
    __slots__ = ("changes", "version")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[CohortChange]
    version: int
    def __init__(self, changes: _Optional[_Iterable[_Union[CohortChange, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...
