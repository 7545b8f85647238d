from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetTimeZoneRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    def __init__(self, project: _Optional[str] = ...) -> None: ...

class SetTimeZoneRequest(_message.Message):
    __slots__ = ("project", "time_zone")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    project: str
    time_zone: str
    def __init__(self, project: _Optional[str] = ..., time_zone: _Optional[str] = ...) -> None: ...

class TimeZone(_message.Message):
    __slots__ = ("time_zone",)
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    time_zone: str
    def __init__(self, time_zone: _Optional[str] = ...) -> None: ...
