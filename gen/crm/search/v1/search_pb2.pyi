import datetime

from crm.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchCustomersRequest(_message.Message):
    __slots__ = ("query", "filter", "sort", "page_size", "page_token", "facets")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FACETS_FIELD_NUMBER: _ClassVar[int]
    query: str
    filter: _common_pb2.Condition
    sort: str
    page_size: int
    page_token: str
    facets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, query: _Optional[str] = ..., filter: _Optional[_Union[_common_pb2.Condition, _Mapping]] = ..., sort: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., facets: _Optional[_Iterable[str]] = ...) -> None: ...

class ContactHit(_message.Message):
    __slots__ = ("name", "phones", "emails")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    name: str
    phones: _containers.RepeatedScalarFieldContainer[str]
    emails: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., phones: _Optional[_Iterable[str]] = ..., emails: _Optional[_Iterable[str]] = ...) -> None: ...

class CustomerHit(_message.Message):
    __slots__ = ("id", "name", "kind", "industry_code", "region_code", "tier", "status", "stage", "scale", "owner_id", "source_channel", "deal_amount_12m", "last_order_at", "last_follow_up_at", "created_at", "contacts", "tags", "score", "highlights")
    class HighlightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DEAL_AMOUNT_12M_FIELD_NUMBER: _ClassVar[int]
    LAST_ORDER_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_FOLLOW_UP_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    HIGHLIGHTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: str
    industry_code: str
    region_code: str
    tier: str
    status: str
    stage: str
    scale: str
    owner_id: str
    source_channel: str
    deal_amount_12m: str
    last_order_at: _timestamp_pb2.Timestamp
    last_follow_up_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    contacts: _containers.RepeatedCompositeFieldContainer[ContactHit]
    tags: _containers.RepeatedScalarFieldContainer[str]
    score: float
    highlights: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., industry_code: _Optional[str] = ..., region_code: _Optional[str] = ..., tier: _Optional[str] = ..., status: _Optional[str] = ..., stage: _Optional[str] = ..., scale: _Optional[str] = ..., owner_id: _Optional[str] = ..., source_channel: _Optional[str] = ..., deal_amount_12m: _Optional[str] = ..., last_order_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_follow_up_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., contacts: _Optional[_Iterable[_Union[ContactHit, _Mapping]]] = ..., tags: _Optional[_Iterable[str]] = ..., score: _Optional[float] = ..., highlights: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FacetBucket(_message.Message):
    __slots__ = ("value", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: str
    count: int
    def __init__(self, value: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class Facet(_message.Message):
    __slots__ = ("name", "buckets")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    name: str
    buckets: _containers.RepeatedCompositeFieldContainer[FacetBucket]
    def __init__(self, name: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[FacetBucket, _Mapping]]] = ...) -> None: ...

class SearchCustomersResponse(_message.Message):
    __slots__ = ("hits", "total", "next_page_token", "facets")
    HITS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FACETS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[CustomerHit]
    total: int
    next_page_token: str
    facets: _containers.RepeatedCompositeFieldContainer[Facet]
    def __init__(self, hits: _Optional[_Iterable[_Union[CustomerHit, _Mapping]]] = ..., total: _Optional[int] = ..., next_page_token: _Optional[str] = ..., facets: _Optional[_Iterable[_Union[Facet, _Mapping]]] = ...) -> None: ...

class SuggestCustomersRequest(_message.Message):
    __slots__ = ("prefix", "limit")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    limit: int
    def __init__(self, prefix: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Suggestion(_message.Message):
    __slots__ = ("customer_id", "name", "highlighted")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HIGHLIGHTED_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    highlighted: str
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., highlighted: _Optional[str] = ...) -> None: ...

class SuggestCustomersResponse(_message.Message):
    __slots__ = ("suggestions",)
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    def __init__(self, suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ...) -> None: ...

class RebuildIndexRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RebuildIndexResponse(_message.Message):
    __slots__ = ("started",)
    STARTED_FIELD_NUMBER: _ClassVar[int]
    started: bool
    def __init__(self, started: _Optional[bool] = ...) -> None: ...

class GetIndexStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetIndexStatusResponse(_message.Message):
    __slots__ = ("backend", "documents", "position", "head_position", "rebuilding", "rebuilt_documents")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    HEAD_POSITION_FIELD_NUMBER: _ClassVar[int]
    REBUILDING_FIELD_NUMBER: _ClassVar[int]
    REBUILT_DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    backend: str
    documents: int
    position: int
    head_position: int
    rebuilding: bool
    rebuilt_documents: int
    def __init__(self, backend: _Optional[str] = ..., documents: _Optional[int] = ..., position: _Optional[int] = ..., head_position: _Optional[int] = ..., rebuilding: _Optional[bool] = ..., rebuilt_documents: _Optional[int] = ...) -> None: ...
