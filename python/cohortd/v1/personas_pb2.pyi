import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DiscoverPersonasRequest(_message.Message):
    __slots__ = ("project", "population", "window", "k", "properties", "seed", "as_of", "top_events", "cluster", "save_cohort", "include_assignments")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    TOP_EVENTS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SAVE_COHORT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    project: str
    population: str
    window: str
    k: str
    properties: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    as_of: _timestamp_pb2.Timestamp
    top_events: int
    cluster: int
    save_cohort: str
    include_assignments: bool
    def __init__(self, project: _Optional[str] = ..., population: _Optional[str] = ..., window: _Optional[str] = ..., k: _Optional[str] = ..., properties: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., top_events: _Optional[int] = ..., cluster: _Optional[int] = ..., save_cohort: _Optional[str] = ..., include_assignments: _Optional[bool] = ...) -> None: ...

class PersonaBehaviour(_message.Message):
    __slots__ = ("event_type", "cluster_mean", "cluster_std", "population_mean", "population_std", "ratio", "direction")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_MEAN_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_STD_FIELD_NUMBER: _ClassVar[int]
    POPULATION_MEAN_FIELD_NUMBER: _ClassVar[int]
    POPULATION_STD_FIELD_NUMBER: _ClassVar[int]
    RATIO_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    cluster_mean: float
    cluster_std: float
    population_mean: float
    population_std: float
    ratio: float
    direction: str
    def __init__(self, event_type: _Optional[str] = ..., cluster_mean: _Optional[float] = ..., cluster_std: _Optional[float] = ..., population_mean: _Optional[float] = ..., population_std: _Optional[float] = ..., ratio: _Optional[float] = ..., direction: _Optional[str] = ...) -> None: ...

class PersonaPropertyShare(_message.Message):
    __slots__ = ("property", "string_value", "bool_value", "cluster_share", "population_share")
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_SHARE_FIELD_NUMBER: _ClassVar[int]
    POPULATION_SHARE_FIELD_NUMBER: _ClassVar[int]
    property: str
    string_value: str
    bool_value: bool
    cluster_share: float
    population_share: float
    def __init__(self, property: _Optional[str] = ..., string_value: _Optional[str] = ..., bool_value: _Optional[bool] = ..., cluster_share: _Optional[float] = ..., population_share: _Optional[float] = ...) -> None: ...

class PersonaRule(_message.Message):
    __slots__ = ("definition", "size", "precision", "recall", "f1")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    F1_FIELD_NUMBER: _ClassVar[int]
    definition: str
    size: int
    precision: float
    recall: float
    f1: float
    def __init__(self, definition: _Optional[str] = ..., size: _Optional[int] = ..., precision: _Optional[float] = ..., recall: _Optional[float] = ..., f1: _Optional[float] = ...) -> None: ...

class Persona(_message.Message):
    __slots__ = ("cluster", "name", "size", "share", "behaviours", "properties", "rule")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOURS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    cluster: int
    name: str
    size: int
    share: float
    behaviours: _containers.RepeatedCompositeFieldContainer[PersonaBehaviour]
    properties: _containers.RepeatedCompositeFieldContainer[PersonaPropertyShare]
    rule: PersonaRule
    def __init__(self, cluster: _Optional[int] = ..., name: _Optional[str] = ..., size: _Optional[int] = ..., share: _Optional[float] = ..., behaviours: _Optional[_Iterable[_Union[PersonaBehaviour, _Mapping]]] = ..., properties: _Optional[_Iterable[_Union[PersonaPropertyShare, _Mapping]]] = ..., rule: _Optional[_Union[PersonaRule, _Mapping]] = ...) -> None: ...

class PersonaStability(_message.Message):
    __slots__ = ("method", "resamples", "ari", "ari_mean", "ari_min")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    RESAMPLES_FIELD_NUMBER: _ClassVar[int]
    ARI_FIELD_NUMBER: _ClassVar[int]
    ARI_MEAN_FIELD_NUMBER: _ClassVar[int]
    ARI_MIN_FIELD_NUMBER: _ClassVar[int]
    method: str
    resamples: int
    ari: _containers.RepeatedScalarFieldContainer[float]
    ari_mean: float
    ari_min: float
    def __init__(self, method: _Optional[str] = ..., resamples: _Optional[int] = ..., ari: _Optional[_Iterable[float]] = ..., ari_mean: _Optional[float] = ..., ari_min: _Optional[float] = ...) -> None: ...

class DiscoverPersonasResponse(_message.Message):
    __slots__ = ("population", "window", "as_of_ms", "population_size", "clustered_users", "event_types", "properties", "seed", "k", "k_criterion", "silhouette", "stability", "personas", "saved_cohort", "assignment_user_ids", "assignment_clusters")
    class SilhouetteEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: float
        def __init__(self, key: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    AS_OF_MS_FIELD_NUMBER: _ClassVar[int]
    POPULATION_SIZE_FIELD_NUMBER: _ClassVar[int]
    CLUSTERED_USERS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    K_CRITERION_FIELD_NUMBER: _ClassVar[int]
    SILHOUETTE_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    PERSONAS_FIELD_NUMBER: _ClassVar[int]
    SAVED_COHORT_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    population: str
    window: str
    as_of_ms: int
    population_size: int
    clustered_users: int
    event_types: _containers.RepeatedScalarFieldContainer[str]
    properties: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    k: int
    k_criterion: str
    silhouette: _containers.ScalarMap[int, float]
    stability: PersonaStability
    personas: _containers.RepeatedCompositeFieldContainer[Persona]
    saved_cohort: str
    assignment_user_ids: _containers.RepeatedScalarFieldContainer[str]
    assignment_clusters: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, population: _Optional[str] = ..., window: _Optional[str] = ..., as_of_ms: _Optional[int] = ..., population_size: _Optional[int] = ..., clustered_users: _Optional[int] = ..., event_types: _Optional[_Iterable[str]] = ..., properties: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ..., k: _Optional[int] = ..., k_criterion: _Optional[str] = ..., silhouette: _Optional[_Mapping[int, float]] = ..., stability: _Optional[_Union[PersonaStability, _Mapping]] = ..., personas: _Optional[_Iterable[_Union[Persona, _Mapping]]] = ..., saved_cohort: _Optional[str] = ..., assignment_user_ids: _Optional[_Iterable[str]] = ..., assignment_clusters: _Optional[_Iterable[int]] = ...) -> None: ...
