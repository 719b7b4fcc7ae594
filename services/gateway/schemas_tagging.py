"""Request and response bodies of tags, tag rules and segments (documented in the OpenAPI)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from services.common import vocabulary as v
from services.gateway.schemas import JSON_INTEGER, Omitted, RangeIn

CustomerIdStr = Annotated[str, Field(pattern=r"^C\d{11,16}$", examples=["C20240501001"])]
TagId = Annotated[str, Field(min_length=1, max_length=36)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


# A count or an amount in CNY, as a decimal string.
_Measure = Annotated[str, Field(pattern=r"^\d{1,9}(\.\d{1,2})?$", examples=["3"])]


class BehaviorRangeIn(RangeIn):
    """Bounds of a behaviour aggregate: at least one, each a count or an amount in CNY."""

    gte: _Measure | Omitted = None
    gt: _Measure | Omitted = None
    lte: _Measure | Omitted = None
    lt: _Measure | Omitted = None


class BehaviorIn(_Body):
    """An aggregate of recent behaviour: e.g. 3+ web interactions mentioning 产品X in 30 days.
    Orders are narrowed by products only; interactions by channels, types and summary_contains."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"source": {"const": "orders"}}},
            "then": {
                "properties": {
                    "channels": {"maxItems": 0},
                    "types": {"maxItems": 0},
                    "summary_contains": {"maxLength": 0},
                }
            },
            "else": {"properties": {"products": {"maxItems": 0}}},
        },
    )

    source: Literal["interactions", "orders"]
    days: Annotated[int, Field(ge=0, le=3650, description="Last N days; 0 = all time"), JSON_INTEGER] = 0
    measure: Literal["count", "amount"] = "count"
    channels: Annotated[list[str], Field(max_length=50)] = []
    types: Annotated[list[str], Field(max_length=50)] = []
    products: Annotated[list[str], Field(max_length=50)] = []
    summary_contains: Annotated[str, Field(max_length=100)] = ""
    range: BehaviorRangeIn


class SegmentConditionIn(_Body):
    """One node of a condition tree: exactly one of all / any / not / behavior, or a field test
    (the search condition language plus behaviour aggregates)."""

    all: Annotated[list["SegmentConditionIn"] | None, Field(min_length=1, max_length=50)] = None
    any: Annotated[list["SegmentConditionIn"] | None, Field(min_length=1, max_length=50)] = None
    not_: Annotated["SegmentConditionIn | None", Field(alias="not")] = None
    behavior: BehaviorIn | None = None
    field: Annotated[str | None, Field(max_length=40, examples=["tier"])] = None
    any_of: Annotated[list[str] | None, Field(max_length=500)] = None
    all_of: Annotated[list[str] | None, Field(max_length=500)] = None
    none_of: Annotated[list[str] | None, Field(max_length=500)] = None
    range: RangeIn | None = None
    exists: StrictBool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TagCreate(_Body):
    name: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=50, examples=["新产品潜在客户"])
    ]
    group: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=30, examples=["兴趣"])] = ""
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#13c2c2"])] = "#1677ff"
    description: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=500)] = ""
    system: Annotated[StrictBool, Field(description="Only tag rules may assign a system tag")] = False


class TagUpdate(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    name: Annotated[str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=50)] | Omitted = None
    group: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=30)] | Omitted = None
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] | Omitted = None
    description: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=500)] | Omitted = None
    system: StrictBool | Omitted = None


class TagRead(_Out):
    id: str
    name: str
    group: str = ""
    color: str = ""
    description: str = ""
    system: bool = False
    customer_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str = ""


class TagList(_Out):
    items: list[TagRead]


class TagDeleted(_Out):
    removed_assignments: int


class TagMerge(_Body):
    """Move every assignment of these tags onto this one, then delete them."""

    source_tag_ids: Annotated[list[TagId], Field(min_length=1, max_length=50)]


class TagMerged(_Out):
    tag: TagRead
    moved_assignments: int


class CustomerTagsChange(_Body):
    tag_ids: Annotated[list[TagId], Field(min_length=1, max_length=50)]


class BulkTagChange(_Body):
    """Assign or remove tags on many customers: a list of ids or a segment's members."""

    # Exactly one of customer_ids and segment_id (said with if/then/else rather than a top-level
    # oneOf, which client generators read as a union of two models).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["customer_ids"], "properties": {"customer_ids": {"type": "array"}}},
            "then": {"not": {"required": ["segment_id"], "properties": {"segment_id": {"type": "string"}}}},
            "else": {"required": ["segment_id"], "properties": {"segment_id": {"type": "string"}}},
        }
    )

    action: Literal["assign", "remove"]
    tag_ids: Annotated[list[TagId], Field(min_length=1, max_length=50)]
    customer_ids: Annotated[list[CustomerIdStr] | None, Field(min_length=1, max_length=10_000)] = None
    segment_id: Annotated[str | None, Field(min_length=1, max_length=36)] = None


class BulkTagResult(_Out):
    changed: int
    customers: int


class TagAssignmentRead(_Out):
    tag_id: str
    name: str
    group: str = ""
    color: str = ""
    source: str = ""
    assigned_by: str = ""
    assigned_at: datetime | None = None


class CustomerTagsRead(_Out):
    customer_id: str
    tags: list[TagAssignmentRead]


class TagHistoryRead(_Out):
    id: int
    customer_id: str
    tag_id: str
    tag_name: str
    action: Literal["assigned", "removed"]
    actor: str
    source: str
    at: datetime


class TagHistoryList(_Out):
    items: list[TagHistoryRead]
    next_page_token: str | None = None


class TagRuleCreate(_Body):
    name: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100, examples=["A/B 类 90 天无互动"])
    ]
    tag_id: TagId
    condition: SegmentConditionIn
    enabled: StrictBool = False
    description: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=500)] = ""


class TagRuleUpdate(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    name: Annotated[str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100)] | Omitted = None
    tag_id: TagId | Omitted = None
    condition: SegmentConditionIn | Omitted = None
    enabled: StrictBool | Omitted = None
    description: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=500)] | Omitted = None


class TagRuleRead(_Out):
    id: str
    name: str
    tag_id: str
    condition: dict[str, object]
    enabled: bool
    description: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_run_at: datetime | None = None
    created_by: str = ""


class TagRuleList(_Out):
    items: list[TagRuleRead]


class TagRuleDryRun(_Body):
    """An unsaved rule to try."""

    tag_id: TagId
    condition: SegmentConditionIn


class TagRuleDryRunResult(_Out):
    matching: int
    would_assign: int
    would_remove: int
    sample_customer_ids: list[str]


class SegmentCreate(_Body):
    """A dynamic segment is defined by its condition; a static one lists its customers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"required": ["kind"], "properties": {"kind": {"const": "static"}}},
            "then": {
                "not": {"required": ["condition"]},
                "required": ["customer_ids"],
                "properties": {"customer_ids": {"minItems": 1}},
            },
            "else": {
                "required": ["condition"],
                "properties": {"condition": {"not": {"type": "null"}}, "customer_ids": {"maxItems": 0}},
            },
        },
    )

    name: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100, examples=["A 类高额但 3 个月无互动"])
    ]
    description: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=500)] = ""
    kind: Literal["dynamic", "static"] = "dynamic"
    condition: SegmentConditionIn | None = None
    customer_ids: Annotated[list[CustomerIdStr], Field(max_length=10_000)] = []


class SegmentUpdate(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    name: Annotated[str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100)] | Omitted = None
    description: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=500)] | Omitted = None
    condition: SegmentConditionIn | Omitted = None
    customer_ids: Annotated[list[CustomerIdStr], Field(max_length=10_000)] | Omitted = None


class SegmentRead(_Out):
    id: str
    name: str
    description: str = ""
    kind: str
    condition: dict[str, object] | None = None
    member_count: int = Field(0, description="Members within your scope")
    created_at: datetime | None = None
    updated_at: datetime | None = None
    refreshed_at: datetime | None = None
    created_by: str = ""


class SegmentList(_Out):
    items: list[SegmentRead]
    next_page_token: str | None = None


class SegmentPreview(_Body):
    condition: SegmentConditionIn
    sample_size: Annotated[int, Field(ge=0, le=50), JSON_INTEGER] = 10


class SegmentMemberRead(_Out):
    customer_id: str
    name: str
    tier: str | None = Field(None, description="Absent when your role hides financial data")
    industry_code: str = ""
    region_code: str = ""
    status: str = ""
    stage: str = ""
    owner_id: str = ""
    deal_amount_12m: str | None = Field(None, description="Absent when your role hides financial data")
    last_order_at: datetime | None = None
    last_follow_up_at: datetime | None = None
    member_since: datetime | None = None
    tags: list[str] = []


class SegmentPreviewResult(_Out):
    count: int
    sample: list[SegmentMemberRead]


class SegmentMemberList(_Out):
    items: list[SegmentMemberRead]
    total: int
    next_page_token: str | None = None


class SegmentEventRead(_Out):
    position: int
    segment_id: str
    customer_id: str
    kind: Literal["entered", "left"]
    at: datetime


class SegmentEventList(_Out):
    items: list[SegmentEventRead]
    head_position: int
