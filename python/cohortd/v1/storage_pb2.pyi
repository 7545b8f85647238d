from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class StorageStatusRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class StorageStatusResponse(_message.Message):
    __slots__ = ("quarantined", "background_failures", "last_background_error", "pending_retry", "log_bytes", "sealed_segments", "tail_events")
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FAILURES_FIELD_NUMBER: _ClassVar[int]
    LAST_BACKGROUND_ERROR_FIELD_NUMBER: _ClassVar[int]
    PENDING_RETRY_FIELD_NUMBER: _ClassVar[int]
    LOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    SEALED_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    TAIL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    quarantined: _containers.RepeatedScalarFieldContainer[str]
    background_failures: int
    last_background_error: str
    pending_retry: bool
    log_bytes: int
    sealed_segments: int
    tail_events: int
    def __init__(self, quarantined: _Optional[_Iterable[str]] = ..., background_failures: _Optional[int] = ..., last_background_error: _Optional[str] = ..., pending_retry: _Optional[bool] = ..., log_bytes: _Optional[int] = ..., sealed_segments: _Optional[int] = ..., tail_events: _Optional[int] = ...) -> None: ...
