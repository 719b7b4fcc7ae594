import datetime

from crm.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Bucket(_message.Message):
    __slots__ = ("key", "name", "count", "parent")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    key: str
    name: str
    count: int
    parent: str
    def __init__(self, key: _Optional[str] = ..., name: _Optional[str] = ..., count: _Optional[int] = ..., parent: _Optional[str] = ...) -> None: ...

class Dimension(_message.Message):
    __slots__ = ("name", "buckets")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    name: str
    buckets: _containers.RepeatedCompositeFieldContainer[Bucket]
    def __init__(self, name: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[Bucket, _Mapping]]] = ...) -> None: ...

class GetDistributionRequest(_message.Message):
    __slots__ = ("condition",)
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    condition: _common_pb2.Condition
    def __init__(self, condition: _Optional[_Union[_common_pb2.Condition, _Mapping]] = ...) -> None: ...

class GetDistributionResponse(_message.Message):
    __slots__ = ("total", "dimensions", "withheld", "as_of")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    total: int
    dimensions: _containers.RepeatedCompositeFieldContainer[Dimension]
    withheld: _containers.RepeatedScalarFieldContainer[str]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, total: _Optional[int] = ..., dimensions: _Optional[_Iterable[_Union[Dimension, _Mapping]]] = ..., withheld: _Optional[_Iterable[str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetGrowthRequest(_message.Message):
    __slots__ = ("condition", "period", "start", "end")
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    condition: _common_pb2.Condition
    period: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, condition: _Optional[_Union[_common_pb2.Condition, _Mapping]] = ..., period: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrowthPoint(_message.Message):
    __slots__ = ("period_start", "new", "churned", "net", "total")
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    NEW_FIELD_NUMBER: _ClassVar[int]
    CHURNED_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    period_start: str
    new: int
    churned: int
    net: int
    total: int
    def __init__(self, period_start: _Optional[str] = ..., new: _Optional[int] = ..., churned: _Optional[int] = ..., net: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class GetGrowthResponse(_message.Message):
    __slots__ = ("period", "points", "withheld", "as_of")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    period: str
    points: _containers.RepeatedCompositeFieldContainer[GrowthPoint]
    withheld: _containers.RepeatedScalarFieldContainer[str]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, period: _Optional[str] = ..., points: _Optional[_Iterable[_Union[GrowthPoint, _Mapping]]] = ..., withheld: _Optional[_Iterable[str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetFunnelRequest(_message.Message):
    __slots__ = ("condition",)
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    condition: _common_pb2.Condition
    def __init__(self, condition: _Optional[_Union[_common_pb2.Condition, _Mapping]] = ...) -> None: ...

class FunnelStage(_message.Message):
    __slots__ = ("stage", "count", "conversion_percent", "weakest")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    WEAKEST_FIELD_NUMBER: _ClassVar[int]
    stage: str
    count: int
    conversion_percent: float
    weakest: bool
    def __init__(self, stage: _Optional[str] = ..., count: _Optional[int] = ..., conversion_percent: _Optional[float] = ..., weakest: _Optional[bool] = ...) -> None: ...

class GetFunnelResponse(_message.Message):
    __slots__ = ("stages", "overall_conversion_percent", "withheld", "as_of")
    STAGES_FIELD_NUMBER: _ClassVar[int]
    OVERALL_CONVERSION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    stages: _containers.RepeatedCompositeFieldContainer[FunnelStage]
    overall_conversion_percent: float
    withheld: _containers.RepeatedScalarFieldContainer[str]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, stages: _Optional[_Iterable[_Union[FunnelStage, _Mapping]]] = ..., overall_conversion_percent: _Optional[float] = ..., withheld: _Optional[_Iterable[str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPortraitRequest(_message.Message):
    __slots__ = ("condition",)
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    condition: _common_pb2.Condition
    def __init__(self, condition: _Optional[_Union[_common_pb2.Condition, _Mapping]] = ...) -> None: ...

class GetPortraitResponse(_message.Message):
    __slots__ = ("total", "provinces", "top_industries", "scales", "kinds", "tiers", "average_deal_amount_12m", "withheld", "as_of")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PROVINCES_FIELD_NUMBER: _ClassVar[int]
    TOP_INDUSTRIES_FIELD_NUMBER: _ClassVar[int]
    SCALES_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_DEAL_AMOUNT_12M_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    total: int
    provinces: _containers.RepeatedCompositeFieldContainer[Bucket]
    top_industries: _containers.RepeatedCompositeFieldContainer[Bucket]
    scales: _containers.RepeatedCompositeFieldContainer[Bucket]
    kinds: _containers.RepeatedCompositeFieldContainer[Bucket]
    tiers: _containers.RepeatedCompositeFieldContainer[Bucket]
    average_deal_amount_12m: str
    withheld: _containers.RepeatedScalarFieldContainer[str]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, total: _Optional[int] = ..., provinces: _Optional[_Iterable[_Union[Bucket, _Mapping]]] = ..., top_industries: _Optional[_Iterable[_Union[Bucket, _Mapping]]] = ..., scales: _Optional[_Iterable[_Union[Bucket, _Mapping]]] = ..., kinds: _Optional[_Iterable[_Union[Bucket, _Mapping]]] = ..., tiers: _Optional[_Iterable[_Union[Bucket, _Mapping]]] = ..., average_deal_amount_12m: _Optional[str] = ..., withheld: _Optional[_Iterable[str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
