from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Destination(_message.Message):
    __slots__ = ("name", "kind", "url", "path", "format", "shape", "created_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    url: str
    path: str
    format: str
    shape: str
    created_ms: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., url: _Optional[str] = ..., path: _Optional[str] = ..., format: _Optional[str] = ..., shape: _Optional[str] = ..., created_ms: _Optional[int] = ...) -> None: ...

class CreateDestinationRequest(_message.Message):
    __slots__ = ("project", "name", "webhook", "directory", "secret", "format", "shape")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    webhook: str
    directory: str
    secret: str
    format: str
    shape: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., webhook: _Optional[str] = ..., directory: _Optional[str] = ..., secret: _Optional[str] = ..., format: _Optional[str] = ..., shape: _Optional[str] = ...) -> None: ...

class CreateDestinationResponse(_message.Message):
    __slots__ = ("destination", "generated_secret")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    GENERATED_SECRET_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    generated_secret: str
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ..., generated_secret: _Optional[str] = ...) -> None: ...

class ListDestinationsRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class ListDestinationsResponse(_message.Message):
    __slots__ = ("destinations",)
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    destinations: _containers.RepeatedCompositeFieldContainer[Destination]
    def __init__(self, destinations: _Optional[_Iterable[_Union[Destination, _Mapping]]] = ...) -> None: ...

class DeleteDestinationRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteDestinationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Audience(_message.Message):
    __slots__ = ("name", "cohort", "destination", "identifier", "hashing", "mode", "batch_size", "status", "acknowledged_version", "acknowledged_members", "last_success_ms", "lag_ms", "failing", "last_error", "created_ms", "holdout")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    HASHING_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    LAST_SUCCESS_MS_FIELD_NUMBER: _ClassVar[int]
    LAG_MS_FIELD_NUMBER: _ClassVar[int]
    FAILING_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    name: str
    cohort: str
    destination: str
    identifier: str
    hashing: str
    mode: str
    batch_size: int
    status: str
    acknowledged_version: int
    acknowledged_members: int
    last_success_ms: int
    lag_ms: int
    failing: int
    last_error: str
    created_ms: int
    holdout: float
    def __init__(self, name: _Optional[str] = ..., cohort: _Optional[str] = ..., destination: _Optional[str] = ..., identifier: _Optional[str] = ..., hashing: _Optional[str] = ..., mode: _Optional[str] = ..., batch_size: _Optional[int] = ..., status: _Optional[str] = ..., acknowledged_version: _Optional[int] = ..., acknowledged_members: _Optional[int] = ..., last_success_ms: _Optional[int] = ..., lag_ms: _Optional[int] = ..., failing: _Optional[int] = ..., last_error: _Optional[str] = ..., created_ms: _Optional[int] = ..., holdout: _Optional[float] = ...) -> None: ...

class CreateAudienceRequest(_message.Message):
    __slots__ = ("project", "name", "cohort", "destination", "identifier", "hashing", "mode", "batch_size", "holdout")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    HASHING_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    cohort: str
    destination: str
    identifier: str
    hashing: str
    mode: str
    batch_size: int
    holdout: float
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., cohort: _Optional[str] = ..., destination: _Optional[str] = ..., identifier: _Optional[str] = ..., hashing: _Optional[str] = ..., mode: _Optional[str] = ..., batch_size: _Optional[int] = ..., holdout: _Optional[float] = ...) -> None: ...

class AudienceRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class AudienceResponse(_message.Message):
    __slots__ = ("audience",)
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ...) -> None: ...

class ListAudiencesRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class ListAudiencesResponse(_message.Message):
    __slots__ = ("audiences",)
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    audiences: _containers.RepeatedCompositeFieldContainer[Audience]
    def __init__(self, audiences: _Optional[_Iterable[_Union[Audience, _Mapping]]] = ...) -> None: ...

class DeleteAudienceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AudienceLogRequest(_message.Message):
    __slots__ = ("project", "name", "limit")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    limit: int
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class SyncAttempt(_message.Message):
    __slots__ = ("time_ms", "from_version", "to_version", "full", "seq", "of", "added", "removed", "skipped", "skip_reason", "status", "http_status", "error", "latency_ms", "idempotency_key")
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    OF_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    SKIP_REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    time_ms: int
    from_version: int
    to_version: int
    full: bool
    seq: int
    of: int
    added: int
    removed: int
    skipped: int
    skip_reason: str
    status: str
    http_status: int
    error: str
    latency_ms: float
    idempotency_key: str
    def __init__(self, time_ms: _Optional[int] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., full: _Optional[bool] = ..., seq: _Optional[int] = ..., of: _Optional[int] = ..., added: _Optional[int] = ..., removed: _Optional[int] = ..., skipped: _Optional[int] = ..., skip_reason: _Optional[str] = ..., status: _Optional[str] = ..., http_status: _Optional[int] = ..., error: _Optional[str] = ..., latency_ms: _Optional[float] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class AudienceLogResponse(_message.Message):
    __slots__ = ("attempts",)
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[SyncAttempt]
    def __init__(self, attempts: _Optional[_Iterable[_Union[SyncAttempt, _Mapping]]] = ...) -> None: ...

class AudienceLiftRequest(_message.Message):
    __slots__ = ("project", "name", "outcome", "horizon", "since_ms", "until_ms")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    outcome: str
    horizon: str
    since_ms: int
    until_ms: int
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., outcome: _Optional[str] = ..., horizon: _Optional[str] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ...) -> None: ...

class LiftArm(_message.Message):
    __slots__ = ("users", "converted", "rate")
    USERS_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    users: int
    converted: int
    rate: float
    def __init__(self, users: _Optional[int] = ..., converted: _Optional[int] = ..., rate: _Optional[float] = ...) -> None: ...

class AudienceLiftResponse(_message.Message):
    __slots__ = ("audience", "outcome", "horizon", "holdout", "delivered", "held_out", "lift", "difference", "ci95_low", "ci95_high", "p_value", "inside_horizon", "since_ms", "until_ms")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    HELD_OUT_FIELD_NUMBER: _ClassVar[int]
    LIFT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    CI95_LOW_FIELD_NUMBER: _ClassVar[int]
    CI95_HIGH_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    INSIDE_HORIZON_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    audience: str
    outcome: str
    horizon: str
    holdout: float
    delivered: LiftArm
    held_out: LiftArm
    lift: float
    difference: float
    ci95_low: float
    ci95_high: float
    p_value: float
    inside_horizon: int
    since_ms: int
    until_ms: int
    def __init__(self, audience: _Optional[str] = ..., outcome: _Optional[str] = ..., horizon: _Optional[str] = ..., holdout: _Optional[float] = ..., delivered: _Optional[_Union[LiftArm, _Mapping]] = ..., held_out: _Optional[_Union[LiftArm, _Mapping]] = ..., lift: _Optional[float] = ..., difference: _Optional[float] = ..., ci95_low: _Optional[float] = ..., ci95_high: _Optional[float] = ..., p_value: _Optional[float] = ..., inside_horizon: _Optional[int] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ...) -> None: ...

class UploadCohortRequest(_message.Message):
    __slots__ = ("project", "name", "user_ids", "description")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    description: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., user_ids: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ...) -> None: ...

class UploadCohortResponse(_message.Message):
    __slots__ = ("cohort", "version", "ids", "members", "unknown", "unknown_sample")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    cohort: str
    version: int
    ids: int
    members: int
    unknown: int
    unknown_sample: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cohort: _Optional[str] = ..., version: _Optional[int] = ..., ids: _Optional[int] = ..., members: _Optional[int] = ..., unknown: _Optional[int] = ..., unknown_sample: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportMembersRequest(_message.Message):
    __slots__ = ("project", "cohort", "identifier", "hashing", "chunk")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    HASHING_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    project: str
    cohort: str
    identifier: str
    hashing: str
    chunk: int
    def __init__(self, project: _Optional[str] = ..., cohort: _Optional[str] = ..., identifier: _Optional[str] = ..., hashing: _Optional[str] = ..., chunk: _Optional[int] = ...) -> None: ...

class ExportMembersChunk(_message.Message):
    __slots__ = ("ids", "total", "skipped", "version")
    IDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    total: int
    skipped: int
    version: int
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., total: _Optional[int] = ..., skipped: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...
