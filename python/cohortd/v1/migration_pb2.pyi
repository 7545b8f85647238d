from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TransitionsRequest(_message.Message):
    __slots__ = ("project", "cohorts", "from_ms", "to_ms", "step")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    project: str
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    from_ms: int
    to_ms: int
    step: str
    def __init__(self, project: _Optional[str] = ..., cohorts: _Optional[_Iterable[str]] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ..., step: _Optional[str] = ...) -> None: ...

class TransitionCell(_message.Message):
    __slots__ = ("source", "target", "users", "share")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    users: int
    share: float
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ..., users: _Optional[int] = ..., share: _Optional[float] = ...) -> None: ...

class TransitionMatrix(_message.Message):
    __slots__ = ("cohorts", "from_ms", "to_ms", "cells", "overlap_from", "overlap_to", "sizes_from", "sizes_to")
    class SizesFromEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class SizesToEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FROM_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_TO_FIELD_NUMBER: _ClassVar[int]
    SIZES_FROM_FIELD_NUMBER: _ClassVar[int]
    SIZES_TO_FIELD_NUMBER: _ClassVar[int]
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    from_ms: int
    to_ms: int
    cells: _containers.RepeatedCompositeFieldContainer[TransitionCell]
    overlap_from: int
    overlap_to: int
    sizes_from: _containers.ScalarMap[str, int]
    sizes_to: _containers.ScalarMap[str, int]
    def __init__(self, cohorts: _Optional[_Iterable[str]] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ..., cells: _Optional[_Iterable[_Union[TransitionCell, _Mapping]]] = ..., overlap_from: _Optional[int] = ..., overlap_to: _Optional[int] = ..., sizes_from: _Optional[_Mapping[str, int]] = ..., sizes_to: _Optional[_Mapping[str, int]] = ...) -> None: ...

class TransitionsResponse(_message.Message):
    __slots__ = ("matrices",)
    MATRICES_FIELD_NUMBER: _ClassVar[int]
    matrices: _containers.RepeatedCompositeFieldContainer[TransitionMatrix]
    def __init__(self, matrices: _Optional[_Iterable[_Union[TransitionMatrix, _Mapping]]] = ...) -> None: ...

class MigrationEntriesRequest(_message.Message):
    __slots__ = ("project", "cohorts", "into", "since_ms", "until_ms")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    INTO_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    project: str
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    into: str
    since_ms: int
    until_ms: int
    def __init__(self, project: _Optional[str] = ..., cohorts: _Optional[_Iterable[str]] = ..., into: _Optional[str] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ...) -> None: ...

class MigrationEntriesResponse(_message.Message):
    __slots__ = ("cohort", "cohorts", "entries", "came_from", "log_from_ms", "since_ms", "until_ms")
    class CameFromEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    COHORT_FIELD_NUMBER: _ClassVar[int]
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CAME_FROM_FIELD_NUMBER: _ClassVar[int]
    LOG_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    cohort: str
    cohorts: _containers.RepeatedScalarFieldContainer[str]
    entries: int
    came_from: _containers.ScalarMap[str, int]
    log_from_ms: int
    since_ms: int
    until_ms: int
    def __init__(self, cohort: _Optional[str] = ..., cohorts: _Optional[_Iterable[str]] = ..., entries: _Optional[int] = ..., came_from: _Optional[_Mapping[str, int]] = ..., log_from_ms: _Optional[int] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ...) -> None: ...
