from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FieldChange(_message.Message):
    __slots__ = ("field", "old_value", "new_value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    old_value: _struct_pb2.Value
    new_value: _struct_pb2.Value
    def __init__(self, field: _Optional[str] = ..., old_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., new_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class PageInfo(_message.Message):
    __slots__ = ("next_page_token",)
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    def __init__(self, next_page_token: _Optional[str] = ...) -> None: ...

class Condition(_message.Message):
    __slots__ = ("all", "any", "field", "behavior")
    ALL_FIELD_NUMBER: _ClassVar[int]
    ANY_FIELD_NUMBER: _ClassVar[int]
    NOT_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    all: ConditionList
    any: ConditionList
    field: FieldTest
    behavior: BehaviorTest
    def __init__(self, all: _Optional[_Union[ConditionList, _Mapping]] = ..., any: _Optional[_Union[ConditionList, _Mapping]] = ..., field: _Optional[_Union[FieldTest, _Mapping]] = ..., behavior: _Optional[_Union[BehaviorTest, _Mapping]] = ..., **kwargs) -> None: ...

class ConditionList(_message.Message):
    __slots__ = ("conditions",)
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    def __init__(self, conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ...) -> None: ...

class FieldTest(_message.Message):
    __slots__ = ("field", "any_of", "all_of", "none_of", "range", "exists")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    ANY_OF_FIELD_NUMBER: _ClassVar[int]
    ALL_OF_FIELD_NUMBER: _ClassVar[int]
    NONE_OF_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    field: str
    any_of: Values
    all_of: Values
    none_of: Values
    range: Range
    exists: bool
    def __init__(self, field: _Optional[str] = ..., any_of: _Optional[_Union[Values, _Mapping]] = ..., all_of: _Optional[_Union[Values, _Mapping]] = ..., none_of: _Optional[_Union[Values, _Mapping]] = ..., range: _Optional[_Union[Range, _Mapping]] = ..., exists: _Optional[bool] = ...) -> None: ...

class Values(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class Range(_message.Message):
    __slots__ = ("gte", "gt", "lte", "lt")
    GTE_FIELD_NUMBER: _ClassVar[int]
    GT_FIELD_NUMBER: _ClassVar[int]
    LTE_FIELD_NUMBER: _ClassVar[int]
    LT_FIELD_NUMBER: _ClassVar[int]
    gte: str
    gt: str
    lte: str
    lt: str
    def __init__(self, gte: _Optional[str] = ..., gt: _Optional[str] = ..., lte: _Optional[str] = ..., lt: _Optional[str] = ...) -> None: ...

class BehaviorTest(_message.Message):
    __slots__ = ("source", "days", "measure", "channels", "types", "products", "summary_contains", "range")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    source: str
    days: int
    measure: str
    channels: _containers.RepeatedScalarFieldContainer[str]
    types: _containers.RepeatedScalarFieldContainer[str]
    products: _containers.RepeatedScalarFieldContainer[str]
    summary_contains: str
    range: Range
    def __init__(self, source: _Optional[str] = ..., days: _Optional[int] = ..., measure: _Optional[str] = ..., channels: _Optional[_Iterable[str]] = ..., types: _Optional[_Iterable[str]] = ..., products: _Optional[_Iterable[str]] = ..., summary_contains: _Optional[str] = ..., range: _Optional[_Union[Range, _Mapping]] = ...) -> None: ...
