from cohortd.v1 import cohortd_pb2 as _cohortd_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UnarchiveCohortRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class UnarchiveCohortResponse(_message.Message):
    __slots__ = ("cohort",)
    COHORT_FIELD_NUMBER: _ClassVar[int]
    cohort: _cohortd_pb2.Cohort
    def __init__(self, cohort: _Optional[_Union[_cohortd_pb2.Cohort, _Mapping]] = ...) -> None: ...

class RenameCohortRequest(_message.Message):
    __slots__ = ("project", "name", "new_name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NEW_NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    new_name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ..., new_name: _Optional[str] = ...) -> None: ...

class RenameCohortResponse(_message.Message):
    __slots__ = ("cohort", "followed")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    FOLLOWED_FIELD_NUMBER: _ClassVar[int]
    cohort: _cohortd_pb2.Cohort
    followed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cohort: _Optional[_Union[_cohortd_pb2.Cohort, _Mapping]] = ..., followed: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteCohortRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteCohortResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CohortChangelogRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    name: str
    def __init__(self, project: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CohortVersionChange(_message.Message):
    __slots__ = ("version", "time_ms", "author", "note", "definition", "description", "definition_diff", "description_diff")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_DIFF_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_DIFF_FIELD_NUMBER: _ClassVar[int]
    version: int
    time_ms: int
    author: str
    note: str
    definition: str
    description: str
    definition_diff: str
    description_diff: str
    def __init__(self, version: _Optional[int] = ..., time_ms: _Optional[int] = ..., author: _Optional[str] = ..., note: _Optional[str] = ..., definition: _Optional[str] = ..., description: _Optional[str] = ..., definition_diff: _Optional[str] = ..., description_diff: _Optional[str] = ...) -> None: ...

class CohortChangelogResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[CohortVersionChange]
    def __init__(self, versions: _Optional[_Iterable[_Union[CohortVersionChange, _Mapping]]] = ...) -> None: ...
