from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class DeleteUsersRequest(_message.Message):
    __slots__ = ("project", "user_ids", "compact")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    COMPACT_FIELD_NUMBER: _ClassVar[int]
    project: str
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    compact: bool
    def __init__(self, project: _Optional[str] = ..., user_ids: _Optional[_Iterable[str]] = ..., compact: _Optional[bool] = ...) -> None: ...

class DeleteUsersResponse(_message.Message):
    __slots__ = ("found", "not_found", "ids_deleted", "events_before", "events_visible_after", "purged", "audit_json")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    IDS_DELETED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_VISIBLE_AFTER_FIELD_NUMBER: _ClassVar[int]
    PURGED_FIELD_NUMBER: _ClassVar[int]
    AUDIT_JSON_FIELD_NUMBER: _ClassVar[int]
    found: _containers.RepeatedScalarFieldContainer[str]
    not_found: _containers.RepeatedScalarFieldContainer[str]
    ids_deleted: int
    events_before: int
    events_visible_after: int
    purged: bool
    audit_json: str
    def __init__(self, found: _Optional[_Iterable[str]] = ..., not_found: _Optional[_Iterable[str]] = ..., ids_deleted: _Optional[int] = ..., events_before: _Optional[int] = ..., events_visible_after: _Optional[int] = ..., purged: _Optional[bool] = ..., audit_json: _Optional[str] = ...) -> None: ...
