import datetime

from crm.common.v1 import common_pb2 as _common_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tag(_message.Message):
    __slots__ = ("id", "name", "group", "color", "description", "system", "customer_count", "created_at", "updated_at", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    group: str
    color: str
    description: str
    system: bool
    customer_count: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    created_by: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., group: _Optional[str] = ..., color: _Optional[str] = ..., description: _Optional[str] = ..., system: _Optional[bool] = ..., customer_count: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ...) -> None: ...

class ListTagsRequest(_message.Message):
    __slots__ = ("group",)
    GROUP_FIELD_NUMBER: _ClassVar[int]
    group: str
    def __init__(self, group: _Optional[str] = ...) -> None: ...

class ListTagsResponse(_message.Message):
    __slots__ = ("tags",)
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    def __init__(self, tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ...) -> None: ...

class CreateTagRequest(_message.Message):
    __slots__ = ("tag",)
    TAG_FIELD_NUMBER: _ClassVar[int]
    tag: Tag
    def __init__(self, tag: _Optional[_Union[Tag, _Mapping]] = ...) -> None: ...

class CreateTagResponse(_message.Message):
    __slots__ = ("tag",)
    TAG_FIELD_NUMBER: _ClassVar[int]
    tag: Tag
    def __init__(self, tag: _Optional[_Union[Tag, _Mapping]] = ...) -> None: ...

class UpdateTagRequest(_message.Message):
    __slots__ = ("tag_id", "tag", "update_mask")
    TAG_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    tag_id: str
    tag: Tag
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, tag_id: _Optional[str] = ..., tag: _Optional[_Union[Tag, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateTagResponse(_message.Message):
    __slots__ = ("tag",)
    TAG_FIELD_NUMBER: _ClassVar[int]
    tag: Tag
    def __init__(self, tag: _Optional[_Union[Tag, _Mapping]] = ...) -> None: ...

class DeleteTagRequest(_message.Message):
    __slots__ = ("tag_id",)
    TAG_ID_FIELD_NUMBER: _ClassVar[int]
    tag_id: str
    def __init__(self, tag_id: _Optional[str] = ...) -> None: ...

class DeleteTagResponse(_message.Message):
    __slots__ = ("removed_assignments",)
    REMOVED_ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    removed_assignments: int
    def __init__(self, removed_assignments: _Optional[int] = ...) -> None: ...

class MergeTagsRequest(_message.Message):
    __slots__ = ("source_tag_ids", "target_tag_id")
    SOURCE_TAG_IDS_FIELD_NUMBER: _ClassVar[int]
    TARGET_TAG_ID_FIELD_NUMBER: _ClassVar[int]
    source_tag_ids: _containers.RepeatedScalarFieldContainer[str]
    target_tag_id: str
    def __init__(self, source_tag_ids: _Optional[_Iterable[str]] = ..., target_tag_id: _Optional[str] = ...) -> None: ...

class MergeTagsResponse(_message.Message):
    __slots__ = ("tag", "moved_assignments")
    TAG_FIELD_NUMBER: _ClassVar[int]
    MOVED_ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    tag: Tag
    moved_assignments: int
    def __init__(self, tag: _Optional[_Union[Tag, _Mapping]] = ..., moved_assignments: _Optional[int] = ...) -> None: ...

class CustomerSelection(_message.Message):
    __slots__ = ("customer_id", "customer_ids", "segment_id")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    customer_ids: CustomerIds
    segment_id: str
    def __init__(self, customer_id: _Optional[str] = ..., customer_ids: _Optional[_Union[CustomerIds, _Mapping]] = ..., segment_id: _Optional[str] = ...) -> None: ...

class CustomerIds(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AssignTagsRequest(_message.Message):
    __slots__ = ("customers", "tag_ids")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    TAG_IDS_FIELD_NUMBER: _ClassVar[int]
    customers: CustomerSelection
    tag_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, customers: _Optional[_Union[CustomerSelection, _Mapping]] = ..., tag_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AssignTagsResponse(_message.Message):
    __slots__ = ("changed", "customers")
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    changed: int
    customers: int
    def __init__(self, changed: _Optional[int] = ..., customers: _Optional[int] = ...) -> None: ...

class RemoveTagsRequest(_message.Message):
    __slots__ = ("customers", "tag_ids")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    TAG_IDS_FIELD_NUMBER: _ClassVar[int]
    customers: CustomerSelection
    tag_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, customers: _Optional[_Union[CustomerSelection, _Mapping]] = ..., tag_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveTagsResponse(_message.Message):
    __slots__ = ("changed", "customers")
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    changed: int
    customers: int
    def __init__(self, changed: _Optional[int] = ..., customers: _Optional[int] = ...) -> None: ...

class TagAssignment(_message.Message):
    __slots__ = ("tag_id", "name", "group", "color", "source", "assigned_by", "assigned_at")
    TAG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_BY_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    tag_id: str
    name: str
    group: str
    color: str
    source: str
    assigned_by: str
    assigned_at: _timestamp_pb2.Timestamp
    def __init__(self, tag_id: _Optional[str] = ..., name: _Optional[str] = ..., group: _Optional[str] = ..., color: _Optional[str] = ..., source: _Optional[str] = ..., assigned_by: _Optional[str] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomerTags(_message.Message):
    __slots__ = ("customer_id", "tags")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    tags: _containers.RepeatedCompositeFieldContainer[TagAssignment]
    def __init__(self, customer_id: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[TagAssignment, _Mapping]]] = ...) -> None: ...

class ListCustomerTagsRequest(_message.Message):
    __slots__ = ("customer_ids",)
    CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    customer_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, customer_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCustomerTagsResponse(_message.Message):
    __slots__ = ("customers",)
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[CustomerTags]
    def __init__(self, customers: _Optional[_Iterable[_Union[CustomerTags, _Mapping]]] = ...) -> None: ...

class TagHistoryEntry(_message.Message):
    __slots__ = ("id", "customer_id", "tag_id", "tag_name", "action", "actor", "source", "at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    customer_id: str
    tag_id: str
    tag_name: str
    action: str
    actor: str
    source: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., customer_id: _Optional[str] = ..., tag_id: _Optional[str] = ..., tag_name: _Optional[str] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., source: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListTagHistoryRequest(_message.Message):
    __slots__ = ("customer_id", "page")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page: _common_pb2.PageRequest
    def __init__(self, customer_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListTagHistoryResponse(_message.Message):
    __slots__ = ("entries", "page")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[TagHistoryEntry]
    page: _common_pb2.PageInfo
    def __init__(self, entries: _Optional[_Iterable[_Union[TagHistoryEntry, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class TagRule(_message.Message):
    __slots__ = ("id", "name", "tag_id", "condition", "enabled", "description", "created_at", "updated_at", "last_run_at", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_ID_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    tag_id: str
    condition: _common_pb2.Condition
    enabled: bool
    description: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    last_run_at: _timestamp_pb2.Timestamp
    created_by: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., tag_id: _Optional[str] = ..., condition: _Optional[_Union[_common_pb2.Condition, _Mapping]] = ..., enabled: _Optional[bool] = ..., description: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_run_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ...) -> None: ...

class ListTagRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTagRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[TagRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[TagRule, _Mapping]]] = ...) -> None: ...

class CreateTagRuleRequest(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: TagRule
    def __init__(self, rule: _Optional[_Union[TagRule, _Mapping]] = ...) -> None: ...

class CreateTagRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: TagRule
    def __init__(self, rule: _Optional[_Union[TagRule, _Mapping]] = ...) -> None: ...

class UpdateTagRuleRequest(_message.Message):
    __slots__ = ("rule_id", "rule", "update_mask")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    rule: TagRule
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, rule_id: _Optional[str] = ..., rule: _Optional[_Union[TagRule, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateTagRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: TagRule
    def __init__(self, rule: _Optional[_Union[TagRule, _Mapping]] = ...) -> None: ...

class DeleteTagRuleRequest(_message.Message):
    __slots__ = ("rule_id",)
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    def __init__(self, rule_id: _Optional[str] = ...) -> None: ...

class DeleteTagRuleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DryRunTagRuleRequest(_message.Message):
    __slots__ = ("rule_id", "rule")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    rule: TagRule
    def __init__(self, rule_id: _Optional[str] = ..., rule: _Optional[_Union[TagRule, _Mapping]] = ...) -> None: ...

class DryRunTagRuleResponse(_message.Message):
    __slots__ = ("matching", "would_assign", "would_remove", "sample_customer_ids")
    MATCHING_FIELD_NUMBER: _ClassVar[int]
    WOULD_ASSIGN_FIELD_NUMBER: _ClassVar[int]
    WOULD_REMOVE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    matching: int
    would_assign: int
    would_remove: int
    sample_customer_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, matching: _Optional[int] = ..., would_assign: _Optional[int] = ..., would_remove: _Optional[int] = ..., sample_customer_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RunScheduledEvaluationRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunScheduledEvaluationResponse(_message.Message):
    __slots__ = ("rules", "segments", "tag_changes", "membership_changes")
    RULES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    TAG_CHANGES_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_CHANGES_FIELD_NUMBER: _ClassVar[int]
    rules: int
    segments: int
    tag_changes: int
    membership_changes: int
    def __init__(self, rules: _Optional[int] = ..., segments: _Optional[int] = ..., tag_changes: _Optional[int] = ..., membership_changes: _Optional[int] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("id", "name", "description", "kind", "condition", "customer_ids", "member_count", "created_at", "updated_at", "refreshed_at", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESHED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    kind: str
    condition: _common_pb2.Condition
    customer_ids: _containers.RepeatedScalarFieldContainer[str]
    member_count: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    refreshed_at: _timestamp_pb2.Timestamp
    created_by: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[str] = ..., condition: _Optional[_Union[_common_pb2.Condition, _Mapping]] = ..., customer_ids: _Optional[_Iterable[str]] = ..., member_count: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refreshed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ...) -> None: ...

class PreviewSegmentRequest(_message.Message):
    __slots__ = ("condition", "sample_size")
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    condition: _common_pb2.Condition
    sample_size: int
    def __init__(self, condition: _Optional[_Union[_common_pb2.Condition, _Mapping]] = ..., sample_size: _Optional[int] = ...) -> None: ...

class SegmentMember(_message.Message):
    __slots__ = ("customer_id", "name", "tier", "industry_code", "region_code", "status", "stage", "owner_id", "deal_amount_12m", "last_order_at", "last_follow_up_at", "member_since", "tags")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_AMOUNT_12M_FIELD_NUMBER: _ClassVar[int]
    LAST_ORDER_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_FOLLOW_UP_AT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_SINCE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    tier: str
    industry_code: str
    region_code: str
    status: str
    stage: str
    owner_id: str
    deal_amount_12m: str
    last_order_at: _timestamp_pb2.Timestamp
    last_follow_up_at: _timestamp_pb2.Timestamp
    member_since: _timestamp_pb2.Timestamp
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., tier: _Optional[str] = ..., industry_code: _Optional[str] = ..., region_code: _Optional[str] = ..., status: _Optional[str] = ..., stage: _Optional[str] = ..., owner_id: _Optional[str] = ..., deal_amount_12m: _Optional[str] = ..., last_order_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_follow_up_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., member_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class PreviewSegmentResponse(_message.Message):
    __slots__ = ("count", "sample")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    count: int
    sample: _containers.RepeatedCompositeFieldContainer[SegmentMember]
    def __init__(self, count: _Optional[int] = ..., sample: _Optional[_Iterable[_Union[SegmentMember, _Mapping]]] = ...) -> None: ...

class CreateSegmentRequest(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class CreateSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class GetSegmentRequest(_message.Message):
    __slots__ = ("segment_id",)
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    def __init__(self, segment_id: _Optional[str] = ...) -> None: ...

class GetSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class ListSegmentsRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListSegmentsResponse(_message.Message):
    __slots__ = ("segments", "page")
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    page: _common_pb2.PageInfo
    def __init__(self, segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateSegmentRequest(_message.Message):
    __slots__ = ("segment_id", "segment", "update_mask")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    segment: Segment
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, segment_id: _Optional[str] = ..., segment: _Optional[_Union[Segment, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class DeleteSegmentRequest(_message.Message):
    __slots__ = ("segment_id",)
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    def __init__(self, segment_id: _Optional[str] = ...) -> None: ...

class DeleteSegmentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSegmentMembersRequest(_message.Message):
    __slots__ = ("segment_id", "page", "export", "purpose")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    page: _common_pb2.PageRequest
    export: bool
    purpose: str
    def __init__(self, segment_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., export: _Optional[bool] = ..., purpose: _Optional[str] = ...) -> None: ...

class ListSegmentMembersResponse(_message.Message):
    __slots__ = ("members", "page", "total")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[SegmentMember]
    page: _common_pb2.PageInfo
    total: int
    def __init__(self, members: _Optional[_Iterable[_Union[SegmentMember, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ..., total: _Optional[int] = ...) -> None: ...

class SegmentEvent(_message.Message):
    __slots__ = ("position", "segment_id", "customer_id", "kind", "at")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    position: int
    segment_id: str
    customer_id: str
    kind: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, position: _Optional[int] = ..., segment_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., kind: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReadSegmentEventsRequest(_message.Message):
    __slots__ = ("after_position", "limit", "segment_id")
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    after_position: int
    limit: int
    segment_id: str
    def __init__(self, after_position: _Optional[int] = ..., limit: _Optional[int] = ..., segment_id: _Optional[str] = ...) -> None: ...

class ReadSegmentEventsResponse(_message.Message):
    __slots__ = ("events", "head_position")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    HEAD_POSITION_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[SegmentEvent]
    head_position: int
    def __init__(self, events: _Optional[_Iterable[_Union[SegmentEvent, _Mapping]]] = ..., head_position: _Optional[int] = ...) -> None: ...

class TagChange(_message.Message):
    __slots__ = ("position", "customer_id", "tags", "at", "traceparent")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    position: int
    customer_id: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    at: _timestamp_pb2.Timestamp
    traceparent: str
    def __init__(self, position: _Optional[int] = ..., customer_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...

class ReadTagChangesRequest(_message.Message):
    __slots__ = ("after_position", "limit")
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after_position: int
    limit: int
    def __init__(self, after_position: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ReadTagChangesResponse(_message.Message):
    __slots__ = ("changes", "head_position")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    HEAD_POSITION_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[TagChange]
    head_position: int
    def __init__(self, changes: _Optional[_Iterable[_Union[TagChange, _Mapping]]] = ..., head_position: _Optional[int] = ...) -> None: ...
