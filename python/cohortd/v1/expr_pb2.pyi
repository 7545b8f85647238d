from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DurationUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DURATION_UNIT_UNSPECIFIED: _ClassVar[DurationUnit]
    DURATION_UNIT_MS: _ClassVar[DurationUnit]
    DURATION_UNIT_S: _ClassVar[DurationUnit]
    DURATION_UNIT_M: _ClassVar[DurationUnit]
    DURATION_UNIT_H: _ClassVar[DurationUnit]
    DURATION_UNIT_D: _ClassVar[DurationUnit]
    DURATION_UNIT_W: _ClassVar[DurationUnit]

class CmpOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CMP_OP_UNSPECIFIED: _ClassVar[CmpOp]
    CMP_OP_EQ: _ClassVar[CmpOp]
    CMP_OP_NE: _ClassVar[CmpOp]
    CMP_OP_LT: _ClassVar[CmpOp]
    CMP_OP_LE: _ClassVar[CmpOp]
    CMP_OP_GT: _ClassVar[CmpOp]
    CMP_OP_GE: _ClassVar[CmpOp]

class CalendarUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALENDAR_UNIT_UNSPECIFIED: _ClassVar[CalendarUnit]
    CALENDAR_UNIT_DAY: _ClassVar[CalendarUnit]
    CALENDAR_UNIT_WEEK: _ClassVar[CalendarUnit]
    CALENDAR_UNIT_MONTH: _ClassVar[CalendarUnit]
    CALENDAR_UNIT_YEAR: _ClassVar[CalendarUnit]

class AggregateFunc(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGGREGATE_FUNC_UNSPECIFIED: _ClassVar[AggregateFunc]
    AGGREGATE_FUNC_SUM: _ClassVar[AggregateFunc]
    AGGREGATE_FUNC_AVG: _ClassVar[AggregateFunc]
    AGGREGATE_FUNC_MIN: _ClassVar[AggregateFunc]
    AGGREGATE_FUNC_MAX: _ClassVar[AggregateFunc]
    AGGREGATE_FUNC_DISTINCT: _ClassVar[AggregateFunc]
DURATION_UNIT_UNSPECIFIED: DurationUnit
DURATION_UNIT_MS: DurationUnit
DURATION_UNIT_S: DurationUnit
DURATION_UNIT_M: DurationUnit
DURATION_UNIT_H: DurationUnit
DURATION_UNIT_D: DurationUnit
DURATION_UNIT_W: DurationUnit
CMP_OP_UNSPECIFIED: CmpOp
CMP_OP_EQ: CmpOp
CMP_OP_NE: CmpOp
CMP_OP_LT: CmpOp
CMP_OP_LE: CmpOp
CMP_OP_GT: CmpOp
CMP_OP_GE: CmpOp
CALENDAR_UNIT_UNSPECIFIED: CalendarUnit
CALENDAR_UNIT_DAY: CalendarUnit
CALENDAR_UNIT_WEEK: CalendarUnit
CALENDAR_UNIT_MONTH: CalendarUnit
CALENDAR_UNIT_YEAR: CalendarUnit
AGGREGATE_FUNC_UNSPECIFIED: AggregateFunc
AGGREGATE_FUNC_SUM: AggregateFunc
AGGREGATE_FUNC_AVG: AggregateFunc
AGGREGATE_FUNC_MIN: AggregateFunc
AGGREGATE_FUNC_MAX: AggregateFunc
AGGREGATE_FUNC_DISTINCT: AggregateFunc

class Value(_message.Message):
    __slots__ = ("string_value", "int_value", "double_value", "bool_value")
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    string_value: str
    int_value: int
    double_value: float
    bool_value: bool
    def __init__(self, string_value: _Optional[str] = ..., int_value: _Optional[int] = ..., double_value: _Optional[float] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class Number(_message.Message):
    __slots__ = ("int_value", "double_value")
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    int_value: int
    double_value: float
    def __init__(self, int_value: _Optional[int] = ..., double_value: _Optional[float] = ...) -> None: ...

class Duration(_message.Message):
    __slots__ = ("value", "unit")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    value: int
    unit: DurationUnit
    def __init__(self, value: _Optional[int] = ..., unit: _Optional[_Union[DurationUnit, str]] = ...) -> None: ...

class Window(_message.Message):
    __slots__ = ("ever", "last", "ago", "dates", "since", "this_period", "last_calendar", "last_span")
    class Ever(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class Last(_message.Message):
        __slots__ = ("duration",)
        DURATION_FIELD_NUMBER: _ClassVar[int]
        duration: Duration
        def __init__(self, duration: _Optional[_Union[Duration, _Mapping]] = ...) -> None: ...
    class Ago(_message.Message):
        __slots__ = ("start", "end")
        START_FIELD_NUMBER: _ClassVar[int]
        END_FIELD_NUMBER: _ClassVar[int]
        start: Duration
        end: Duration
        def __init__(self, start: _Optional[_Union[Duration, _Mapping]] = ..., end: _Optional[_Union[Duration, _Mapping]] = ...) -> None: ...
    class Dates(_message.Message):
        __slots__ = ("start_ms", "end_ms")
        START_MS_FIELD_NUMBER: _ClassVar[int]
        END_MS_FIELD_NUMBER: _ClassVar[int]
        start_ms: int
        end_ms: int
        def __init__(self, start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ...) -> None: ...
    class Since(_message.Message):
        __slots__ = ("start_ms",)
        START_MS_FIELD_NUMBER: _ClassVar[int]
        start_ms: int
        def __init__(self, start_ms: _Optional[int] = ...) -> None: ...
    class ThisPeriod(_message.Message):
        __slots__ = ("unit",)
        UNIT_FIELD_NUMBER: _ClassVar[int]
        unit: CalendarUnit
        def __init__(self, unit: _Optional[_Union[CalendarUnit, str]] = ...) -> None: ...
    class LastCalendar(_message.Message):
        __slots__ = ("count", "unit")
        COUNT_FIELD_NUMBER: _ClassVar[int]
        UNIT_FIELD_NUMBER: _ClassVar[int]
        count: int
        unit: CalendarUnit
        def __init__(self, count: _Optional[int] = ..., unit: _Optional[_Union[CalendarUnit, str]] = ...) -> None: ...
    class LastSpan(_message.Message):
        __slots__ = ("count", "unit")
        COUNT_FIELD_NUMBER: _ClassVar[int]
        UNIT_FIELD_NUMBER: _ClassVar[int]
        count: int
        unit: CalendarUnit
        def __init__(self, count: _Optional[int] = ..., unit: _Optional[_Union[CalendarUnit, str]] = ...) -> None: ...
    EVER_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    AGO_FIELD_NUMBER: _ClassVar[int]
    DATES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    THIS_PERIOD_FIELD_NUMBER: _ClassVar[int]
    LAST_CALENDAR_FIELD_NUMBER: _ClassVar[int]
    LAST_SPAN_FIELD_NUMBER: _ClassVar[int]
    ever: Window.Ever
    last: Window.Last
    ago: Window.Ago
    dates: Window.Dates
    since: Window.Since
    this_period: Window.ThisPeriod
    last_calendar: Window.LastCalendar
    last_span: Window.LastSpan
    def __init__(self, ever: _Optional[_Union[Window.Ever, _Mapping]] = ..., last: _Optional[_Union[Window.Last, _Mapping]] = ..., ago: _Optional[_Union[Window.Ago, _Mapping]] = ..., dates: _Optional[_Union[Window.Dates, _Mapping]] = ..., since: _Optional[_Union[Window.Since, _Mapping]] = ..., this_period: _Optional[_Union[Window.ThisPeriod, _Mapping]] = ..., last_calendar: _Optional[_Union[Window.LastCalendar, _Mapping]] = ..., last_span: _Optional[_Union[Window.LastSpan, _Mapping]] = ...) -> None: ...

class PropCmp(_message.Message):
    __slots__ = ("prop", "op", "value")
    PROP_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    prop: str
    op: CmpOp
    value: Value
    def __init__(self, prop: _Optional[str] = ..., op: _Optional[_Union[CmpOp, str]] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class PropIn(_message.Message):
    __slots__ = ("prop", "values", "negated")
    PROP_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NEGATED_FIELD_NUMBER: _ClassVar[int]
    prop: str
    values: _containers.RepeatedCompositeFieldContainer[Value]
    negated: bool
    def __init__(self, prop: _Optional[str] = ..., values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ..., negated: _Optional[bool] = ...) -> None: ...

class PropExists(_message.Message):
    __slots__ = ("prop", "negated")
    PROP_FIELD_NUMBER: _ClassVar[int]
    NEGATED_FIELD_NUMBER: _ClassVar[int]
    prop: str
    negated: bool
    def __init__(self, prop: _Optional[str] = ..., negated: _Optional[bool] = ...) -> None: ...

class PropContains(_message.Message):
    __slots__ = ("prop", "substr")
    PROP_FIELD_NUMBER: _ClassVar[int]
    SUBSTR_FIELD_NUMBER: _ClassVar[int]
    prop: str
    substr: str
    def __init__(self, prop: _Optional[str] = ..., substr: _Optional[str] = ...) -> None: ...

class FilterAnd(_message.Message):
    __slots__ = ("left", "right")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    left: Filter
    right: Filter
    def __init__(self, left: _Optional[_Union[Filter, _Mapping]] = ..., right: _Optional[_Union[Filter, _Mapping]] = ...) -> None: ...

class FilterOr(_message.Message):
    __slots__ = ("left", "right")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    left: Filter
    right: Filter
    def __init__(self, left: _Optional[_Union[Filter, _Mapping]] = ..., right: _Optional[_Union[Filter, _Mapping]] = ...) -> None: ...

class FilterNot(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: Filter
    def __init__(self, item: _Optional[_Union[Filter, _Mapping]] = ...) -> None: ...

class FilterAndChain(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Filter]
    def __init__(self, items: _Optional[_Iterable[_Union[Filter, _Mapping]]] = ...) -> None: ...

class FilterOrChain(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Filter]
    def __init__(self, items: _Optional[_Iterable[_Union[Filter, _Mapping]]] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("prop_cmp", "prop_in", "prop_exists", "prop_contains", "f_and", "f_or", "f_not", "f_and_chain", "f_or_chain")
    PROP_CMP_FIELD_NUMBER: _ClassVar[int]
    PROP_IN_FIELD_NUMBER: _ClassVar[int]
    PROP_EXISTS_FIELD_NUMBER: _ClassVar[int]
    PROP_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    F_AND_FIELD_NUMBER: _ClassVar[int]
    F_OR_FIELD_NUMBER: _ClassVar[int]
    F_NOT_FIELD_NUMBER: _ClassVar[int]
    F_AND_CHAIN_FIELD_NUMBER: _ClassVar[int]
    F_OR_CHAIN_FIELD_NUMBER: _ClassVar[int]
    prop_cmp: PropCmp
    prop_in: PropIn
    prop_exists: PropExists
    prop_contains: PropContains
    f_and: FilterAnd
    f_or: FilterOr
    f_not: FilterNot
    f_and_chain: FilterAndChain
    f_or_chain: FilterOrChain
    def __init__(self, prop_cmp: _Optional[_Union[PropCmp, _Mapping]] = ..., prop_in: _Optional[_Union[PropIn, _Mapping]] = ..., prop_exists: _Optional[_Union[PropExists, _Mapping]] = ..., prop_contains: _Optional[_Union[PropContains, _Mapping]] = ..., f_and: _Optional[_Union[FilterAnd, _Mapping]] = ..., f_or: _Optional[_Union[FilterOr, _Mapping]] = ..., f_not: _Optional[_Union[FilterNot, _Mapping]] = ..., f_and_chain: _Optional[_Union[FilterAndChain, _Mapping]] = ..., f_or_chain: _Optional[_Union[FilterOrChain, _Mapping]] = ...) -> None: ...

class Predicate(_message.Message):
    __slots__ = ("prop_cmp", "prop_in", "prop_exists", "prop_contains")
    PROP_CMP_FIELD_NUMBER: _ClassVar[int]
    PROP_IN_FIELD_NUMBER: _ClassVar[int]
    PROP_EXISTS_FIELD_NUMBER: _ClassVar[int]
    PROP_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    prop_cmp: PropCmp
    prop_in: PropIn
    prop_exists: PropExists
    prop_contains: PropContains
    def __init__(self, prop_cmp: _Optional[_Union[PropCmp, _Mapping]] = ..., prop_in: _Optional[_Union[PropIn, _Mapping]] = ..., prop_exists: _Optional[_Union[PropExists, _Mapping]] = ..., prop_contains: _Optional[_Union[PropContains, _Mapping]] = ...) -> None: ...

class EventRef(_message.Message):
    __slots__ = ("event_type", "filter")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    filter: Filter
    def __init__(self, event_type: _Optional[str] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ...) -> None: ...

class Compare(_message.Message):
    __slots__ = ("op", "value")
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    op: CmpOp
    value: Number
    def __init__(self, op: _Optional[_Union[CmpOp, str]] = ..., value: _Optional[_Union[Number, _Mapping]] = ...) -> None: ...

class Range(_message.Message):
    __slots__ = ("lo", "hi")
    LO_FIELD_NUMBER: _ClassVar[int]
    HI_FIELD_NUMBER: _ClassVar[int]
    lo: Number
    hi: Number
    def __init__(self, lo: _Optional[_Union[Number, _Mapping]] = ..., hi: _Optional[_Union[Number, _Mapping]] = ...) -> None: ...

class Comparison(_message.Message):
    __slots__ = ("compare", "range")
    COMPARE_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    compare: Compare
    range: Range
    def __init__(self, compare: _Optional[_Union[Compare, _Mapping]] = ..., range: _Optional[_Union[Range, _Mapping]] = ...) -> None: ...

class Did(_message.Message):
    __slots__ = ("event", "cmp", "window")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CMP_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    cmp: Comparison
    window: Window
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., cmp: _Optional[_Union[Comparison, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class Aggregate(_message.Message):
    __slots__ = ("func", "prop", "event", "cmp", "window")
    FUNC_FIELD_NUMBER: _ClassVar[int]
    PROP_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CMP_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    func: AggregateFunc
    prop: str
    event: EventRef
    cmp: Comparison
    window: Window
    def __init__(self, func: _Optional[_Union[AggregateFunc, str]] = ..., prop: _Optional[str] = ..., event: _Optional[_Union[EventRef, _Mapping]] = ..., cmp: _Optional[_Union[Comparison, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class ActiveDays(_message.Message):
    __slots__ = ("event", "cmp", "window")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CMP_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    cmp: Comparison
    window: Window
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., cmp: _Optional[_Union[Comparison, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class ActivePeriods(_message.Message):
    __slots__ = ("event", "period", "cmp", "window")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CMP_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    period: Duration
    cmp: Comparison
    window: Window
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., period: _Optional[_Union[Duration, _Mapping]] = ..., cmp: _Optional[_Union[Comparison, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class Sequence(_message.Message):
    __slots__ = ("steps", "within", "window")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    WITHIN_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[EventRef]
    within: Duration
    window: Window
    def __init__(self, steps: _Optional[_Iterable[_Union[EventRef, _Mapping]]] = ..., within: _Optional[_Union[Duration, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class FirstDid(_message.Message):
    __slots__ = ("event", "window")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    window: Window
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class CountCompare(_message.Message):
    __slots__ = ("left", "op", "factor", "right", "window")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    left: EventRef
    op: CmpOp
    factor: int
    right: EventRef
    window: Window
    def __init__(self, left: _Optional[_Union[EventRef, _Mapping]] = ..., op: _Optional[_Union[CmpOp, str]] = ..., factor: _Optional[int] = ..., right: _Optional[_Union[EventRef, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class NthDid(_message.Message):
    __slots__ = ("event", "n", "window")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    n: int
    window: Window
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., n: _Optional[int] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class DidOnPeriods(_message.Message):
    __slots__ = ("event", "cmp", "periods", "period", "window")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CMP_FIELD_NUMBER: _ClassVar[int]
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    cmp: Comparison
    periods: int
    period: Duration
    window: Window
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., cmp: _Optional[_Union[Comparison, _Mapping]] = ..., periods: _Optional[int] = ..., period: _Optional[_Union[Duration, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class DidWithinOfFirst(_message.Message):
    __slots__ = ("event", "cmp", "within", "anchor", "window")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CMP_FIELD_NUMBER: _ClassVar[int]
    WITHIN_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    cmp: Comparison
    within: Duration
    anchor: EventRef
    window: Window
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., cmp: _Optional[_Union[Comparison, _Mapping]] = ..., within: _Optional[_Union[Duration, _Mapping]] = ..., anchor: _Optional[_Union[EventRef, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class Lifecycle(_message.Message):
    __slots__ = ("event", "period")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    period: Duration
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., period: _Optional[_Union[Duration, _Mapping]] = ...) -> None: ...

class Regularly(_message.Message):
    __slots__ = ("event", "period", "times", "periods")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    period: Duration
    times: int
    periods: int
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ..., period: _Optional[_Union[Duration, _Mapping]] = ..., times: _Optional[int] = ..., periods: _Optional[int] = ...) -> None: ...

class MetricCount(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ...) -> None: ...

class MetricSum(_message.Message):
    __slots__ = ("prop", "event")
    PROP_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    prop: str
    event: EventRef
    def __init__(self, prop: _Optional[str] = ..., event: _Optional[_Union[EventRef, _Mapping]] = ...) -> None: ...

class MetricActiveDays(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: EventRef
    def __init__(self, event: _Optional[_Union[EventRef, _Mapping]] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ("count", "sum", "active_days")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_DAYS_FIELD_NUMBER: _ClassVar[int]
    count: MetricCount
    sum: MetricSum
    active_days: MetricActiveDays
    def __init__(self, count: _Optional[_Union[MetricCount, _Mapping]] = ..., sum: _Optional[_Union[MetricSum, _Mapping]] = ..., active_days: _Optional[_Union[MetricActiveDays, _Mapping]] = ...) -> None: ...

class Top(_message.Message):
    __slots__ = ("percent", "metric", "window")
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    percent: float
    metric: Metric
    window: Window
    def __init__(self, percent: _Optional[float] = ..., metric: _Optional[_Union[Metric, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class UserProp(_message.Message):
    __slots__ = ("predicate",)
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    predicate: Predicate
    def __init__(self, predicate: _Optional[_Union[Predicate, _Mapping]] = ...) -> None: ...

class HadUserProp(_message.Message):
    __slots__ = ("predicate", "window")
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    predicate: Predicate
    window: Window
    def __init__(self, predicate: _Optional[_Union[Predicate, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class InCohort(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Accounts(_message.Message):
    __slots__ = ("group", "expr")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    EXPR_FIELD_NUMBER: _ClassVar[int]
    group: str
    expr: CohortExpr
    def __init__(self, group: _Optional[str] = ..., expr: _Optional[_Union[CohortExpr, _Mapping]] = ...) -> None: ...

class UserCount(_message.Message):
    __slots__ = ("cohort", "cmp")
    COHORT_FIELD_NUMBER: _ClassVar[int]
    CMP_FIELD_NUMBER: _ClassVar[int]
    cohort: CohortExpr
    cmp: Comparison
    def __init__(self, cohort: _Optional[_Union[CohortExpr, _Mapping]] = ..., cmp: _Optional[_Union[Comparison, _Mapping]] = ...) -> None: ...

class AccountProp(_message.Message):
    __slots__ = ("predicate",)
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    predicate: Predicate
    def __init__(self, predicate: _Optional[_Union[Predicate, _Mapping]] = ...) -> None: ...

class AndExpr(_message.Message):
    __slots__ = ("left", "right")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    left: CohortExpr
    right: CohortExpr
    def __init__(self, left: _Optional[_Union[CohortExpr, _Mapping]] = ..., right: _Optional[_Union[CohortExpr, _Mapping]] = ...) -> None: ...

class OrExpr(_message.Message):
    __slots__ = ("left", "right")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    left: CohortExpr
    right: CohortExpr
    def __init__(self, left: _Optional[_Union[CohortExpr, _Mapping]] = ..., right: _Optional[_Union[CohortExpr, _Mapping]] = ...) -> None: ...

class NotExpr(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: CohortExpr
    def __init__(self, item: _Optional[_Union[CohortExpr, _Mapping]] = ...) -> None: ...

class AndChain(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CohortExpr]
    def __init__(self, items: _Optional[_Iterable[_Union[CohortExpr, _Mapping]]] = ...) -> None: ...

class OrChain(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CohortExpr]
    def __init__(self, items: _Optional[_Iterable[_Union[CohortExpr, _Mapping]]] = ...) -> None: ...

class CohortExpr(_message.Message):
    __slots__ = ("did", "aggregate", "active_days", "active_periods", "sequence", "first_did", "top", "user_prop", "in_cohort", "and_expr", "or_expr", "not_expr", "and_chain", "or_chain", "nth_did", "count_compare", "accounts", "user_count", "account_prop", "had_user_prop", "did_on_periods", "did_within_of_first", "stopped", "restarted", "regularly")
    DID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_DAYS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_PERIODS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FIRST_DID_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    USER_PROP_FIELD_NUMBER: _ClassVar[int]
    IN_COHORT_FIELD_NUMBER: _ClassVar[int]
    AND_EXPR_FIELD_NUMBER: _ClassVar[int]
    OR_EXPR_FIELD_NUMBER: _ClassVar[int]
    NOT_EXPR_FIELD_NUMBER: _ClassVar[int]
    AND_CHAIN_FIELD_NUMBER: _ClassVar[int]
    OR_CHAIN_FIELD_NUMBER: _ClassVar[int]
    NTH_DID_FIELD_NUMBER: _ClassVar[int]
    COUNT_COMPARE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    USER_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_PROP_FIELD_NUMBER: _ClassVar[int]
    HAD_USER_PROP_FIELD_NUMBER: _ClassVar[int]
    DID_ON_PERIODS_FIELD_NUMBER: _ClassVar[int]
    DID_WITHIN_OF_FIRST_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    RESTARTED_FIELD_NUMBER: _ClassVar[int]
    REGULARLY_FIELD_NUMBER: _ClassVar[int]
    did: Did
    aggregate: Aggregate
    active_days: ActiveDays
    active_periods: ActivePeriods
    sequence: Sequence
    first_did: FirstDid
    top: Top
    user_prop: UserProp
    in_cohort: InCohort
    and_expr: AndExpr
    or_expr: OrExpr
    not_expr: NotExpr
    and_chain: AndChain
    or_chain: OrChain
    nth_did: NthDid
    count_compare: CountCompare
    accounts: Accounts
    user_count: UserCount
    account_prop: AccountProp
    had_user_prop: HadUserProp
    did_on_periods: DidOnPeriods
    did_within_of_first: DidWithinOfFirst
    stopped: Lifecycle
    restarted: Lifecycle
    regularly: Regularly
    def __init__(self, did: _Optional[_Union[Did, _Mapping]] = ..., aggregate: _Optional[_Union[Aggregate, _Mapping]] = ..., active_days: _Optional[_Union[ActiveDays, _Mapping]] = ..., active_periods: _Optional[_Union[ActivePeriods, _Mapping]] = ..., sequence: _Optional[_Union[Sequence, _Mapping]] = ..., first_did: _Optional[_Union[FirstDid, _Mapping]] = ..., top: _Optional[_Union[Top, _Mapping]] = ..., user_prop: _Optional[_Union[UserProp, _Mapping]] = ..., in_cohort: _Optional[_Union[InCohort, _Mapping]] = ..., and_expr: _Optional[_Union[AndExpr, _Mapping]] = ..., or_expr: _Optional[_Union[OrExpr, _Mapping]] = ..., not_expr: _Optional[_Union[NotExpr, _Mapping]] = ..., and_chain: _Optional[_Union[AndChain, _Mapping]] = ..., or_chain: _Optional[_Union[OrChain, _Mapping]] = ..., nth_did: _Optional[_Union[NthDid, _Mapping]] = ..., count_compare: _Optional[_Union[CountCompare, _Mapping]] = ..., accounts: _Optional[_Union[Accounts, _Mapping]] = ..., user_count: _Optional[_Union[UserCount, _Mapping]] = ..., account_prop: _Optional[_Union[AccountProp, _Mapping]] = ..., had_user_prop: _Optional[_Union[HadUserProp, _Mapping]] = ..., did_on_periods: _Optional[_Union[DidOnPeriods, _Mapping]] = ..., did_within_of_first: _Optional[_Union[DidWithinOfFirst, _Mapping]] = ..., stopped: _Optional[_Union[Lifecycle, _Mapping]] = ..., restarted: _Optional[_Union[Lifecycle, _Mapping]] = ..., regularly: _Optional[_Union[Regularly, _Mapping]] = ...) -> None: ...

class Definition(_message.Message):
    __slots__ = ("text", "expr")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EXPR_FIELD_NUMBER: _ClassVar[int]
    text: str
    expr: CohortExpr
    def __init__(self, text: _Optional[str] = ..., expr: _Optional[_Union[CohortExpr, _Mapping]] = ...) -> None: ...
