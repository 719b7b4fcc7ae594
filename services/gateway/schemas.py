"""Request and response bodies of the public REST API (documented in the OpenAPI)."""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from services.common import vocabulary as v

# A field a body may leave out but not set to null.
Omitted = SkipJsonSchema[None]

# Amounts travel as decimal strings (never binary floats); the document says exactly which.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{1,12}(\.\d{1,2})?$",
            "description": "Amount in CNY",
            "examples": ["12800.00"],
        }
    ),
]


_NUMBER = re.compile(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?")


def _json_integer(value: object) -> object:
    """A JSON integer (1 or 1.0) and nothing the document does not call one: not "1", not true."""
    if isinstance(value, (str, bool)):
        raise ValueError("give a JSON integer")
    return value


def _written_time(value: object) -> object:
    """A time or date written as text (RFC 3339), never a bare number read as a Unix time."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("give a date or time as text, e.g. 2024-05-01 or 2024-05-01T08:00:00+08:00")
    return value


# What request bodies and query strings accept: what the document says, without Pydantic's
# coercions of other types (a string for a number, a number for a time).
# (after any Field constraints: Pydantic documents them only there)
JSON_INTEGER = BeforeValidator(_json_integer)
DateTime = Annotated[datetime, BeforeValidator(_written_time)]
Date = Annotated[date, BeforeValidator(_written_time)]


# A word of interest, not blank.
Interest = Annotated[str, Field(min_length=1, max_length=50, pattern=r"\S")]


class _Body(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error and not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class _Change(_Body):
    """A change names at least one field, and leaves out the fields it does not change (null is
    refused rather than read as "clear" by some fields and as "keep" by others)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _no_nulls(self) -> "_Change":
        nulls = sorted(n for n in self.model_fields_set if getattr(self, n) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: leave a field out rather than send null")
        return self


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContactCreate(_Body):
    """A contact: a name and at least one phone, e-mail or WeChat ID."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["phones"], "properties": {"phones": {"minItems": 1}}},
                {"required": ["emails"], "properties": {"emails": {"minItems": 1}}},
                {"required": ["wechat"], "properties": {"wechat": {"type": "string", "minLength": 1}}},
            ]
        }
    )

    name: Annotated[str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100, examples=["张伟"])]
    title: Annotated[str | None, Field(pattern=v.PLAIN_TEXT, max_length=100, examples=["采购经理"])] = None
    phones: Annotated[list[str], Field(max_length=10, examples=[["13812345678"]])] = []
    emails: Annotated[list[str], Field(max_length=10, examples=[["zhangwei@example.cn"]])] = []
    wechat: Annotated[str | None, Field(pattern=v.WECHAT_ID, examples=["zhangwei_88"])] = None
    is_primary: StrictBool = False
    departed: StrictBool = False


class ContactRead(_Out):
    id: str
    name: str
    title: str | None = None
    phones: list[str] = []
    emails: list[str] = []
    wechat: str | None = None
    is_primary: bool = False
    departed: bool = False
    created_at: datetime | None = None


class CustomerCreate(_Body):
    """A new customer: name, industry and at least one contact are required."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "上海明辉精密机械有限公司",
                    "kind": "company",
                    "industry_code": "3411",
                    "region_code": "310115",
                    "address": "上海市浦东新区张江路 88 号",
                    "scale": "medium",
                    "stage": "intent",
                    "source_channel": "trade_show",
                    "interests": ["数控机床", "自动化产线"],
                    "contacts": [
                        {
                            "name": "张伟",
                            "title": "采购经理",
                            "phones": ["13812345678"],
                            "emails": ["zhangwei@minghui.cn"],
                            "is_primary": True,
                        }
                    ],
                }
            ]
        },
    )

    name: Annotated[
        str,
        Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=200, examples=["上海明辉精密机械有限公司"]),
    ]
    kind: v.CustomerKind = "company"
    industry_code: Annotated[str, Field(max_length=5, description="GB/T 4754-2017 code", examples=["3411"])]
    region_code: Annotated[
        str | None, Field(max_length=6, description="GB/T 2260 code", examples=["310115"])
    ] = None
    address: Annotated[
        str | None, Field(pattern=v.PLAIN_TEXT, max_length=500, examples=["上海市浦东新区张江路 88 号"])
    ] = None
    scale: v.Scale | None = None
    status: v.Status = "potential"
    stage: v.Stage = "lead"
    owner_id: Annotated[str | None, Field(pattern=v.PLAIN_TEXT, max_length=64, examples=["S1024"])] = None
    source_channel: v.SourceChannel = "manual"
    last_follow_up_at: DateTime | None = None
    gender: v.Gender | None = None
    birthday: Date | None = None
    id_number: Annotated[
        str | None,
        Field(
            max_length=18,
            description="Resident identity card number (individuals only)",
            examples=["11010519491231002X"],
        ),
    ] = None
    preferences: dict[str, Any] = {}
    interests: Annotated[list[Interest], Field(max_length=50)] = []
    notes: Annotated[str | None, Field(pattern=v.PLAIN_TEXT, max_length=5000)] = None
    custom_fields: dict[str, Any] = {}
    credit_limit: Money | None = None
    outstanding_amount: Money | None = None
    loyalty_points: Annotated[int, Field(ge=0), JSON_INTEGER] = 0
    contacts: Annotated[list[ContactCreate], Field(min_length=1, max_length=20)]


class CustomerUpdate(_Body):
    """Fields to change (JSON merge patch): a field set to null is cleared."""

    name: Annotated[str | None, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=200)] = None
    kind: v.CustomerKind | None = None
    industry_code: Annotated[str | None, Field(max_length=5)] = None
    region_code: Annotated[str | None, Field(max_length=6)] = None
    address: Annotated[str | None, Field(pattern=v.PLAIN_TEXT, max_length=500)] = None
    scale: v.Scale | None = None
    status: v.Status | None = None
    stage: v.Stage | None = None
    owner_id: Annotated[str | None, Field(pattern=v.PLAIN_TEXT, max_length=64)] = None
    source_channel: v.SourceChannel | None = None
    last_follow_up_at: DateTime | None = None
    gender: v.Gender | None = None
    birthday: Date | None = None
    id_number: Annotated[str | None, Field(max_length=18)] = None
    preferences: dict[str, Any] | None = None
    interests: Annotated[list[Interest] | None, Field(max_length=50)] = None
    notes: Annotated[str | None, Field(pattern=v.PLAIN_TEXT, max_length=5000)] = None
    custom_fields: dict[str, Any] | None = None
    credit_limit: Money | None = None
    outstanding_amount: Money | None = None
    loyalty_points: Annotated[int, Field(ge=0), JSON_INTEGER] | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"minProperties": 1, "examples": [{"stage": "proposal", "scale": "medium"}]},
    )


class CustomerRead(_Out):
    id: Annotated[str, Field(examples=["C20240501001"])]
    name: str
    kind: str
    industry_code: str
    region_code: str | None = None
    address: str | None = None
    scale: str | None = None
    tier: Annotated[
        str | None,
        Field(description="A/B/C from the last 12 months' orders; null when you may not see financial data"),
    ] = None
    deal_amount_12m: Annotated[
        Money | None, Field(description="Last 12 months' orders; null when you may not see financial data")
    ] = None
    status: str
    stage: str
    owner_id: str | None = None
    source_channel: str
    last_follow_up_at: datetime | None = None
    last_order_at: datetime | None = None
    gender: str | None = None
    birthday: date | None = None
    id_number: Annotated[
        str | None, Field(description="Masked (110105********002X) unless you may see contact details")
    ] = None
    preferences: dict[str, Any] = {}
    interests: list[str] = []
    notes: str | None = None
    custom_fields: dict[str, Any] = {}
    credit_limit: Money | None = None
    outstanding_amount: Money | None = None
    loyalty_points: int = 0
    consented_purposes: Annotated[
        list[str], Field(description="Purposes with an active consent (see /customers/{id}/consents)")
    ] = []
    contacts: list[ContactRead] = []
    version: Annotated[int, Field(description="Send it back in If-Match to change the record")]
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str
    deleted_at: datetime | None = None


class Page(_Out):
    next_page_token: Annotated[
        str | None, Field(description="Pass as page_token for the next page; null on the last")
    ] = None


class CustomerList(Page):
    items: list[CustomerRead]


class FieldChangeRead(_Out):
    field: str
    old: Any = None
    new: Any = None


class RevisionRead(_Out):
    revision: int
    action: Annotated[str, Field(examples=["customer.updated"])]
    actor: str
    at: datetime
    version: int
    changes: list[FieldChangeRead]
    trace_id: str | None = None


class RevisionList(Page):
    items: list[RevisionRead]


class InteractionCreate(_Body):
    channel: v.InteractionChannel
    type: v.InteractionType = "follow_up"
    occurred_at: DateTime
    summary: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=5000, examples=["电话回访，客户关注交期"])
    ]
    by_user: Annotated[str | None, Field(pattern=v.PLAIN_TEXT, max_length=64)] = None


class InteractionRead(_Out):
    id: str
    customer_id: str
    channel: str
    type: str
    occurred_at: datetime
    summary: str
    by_user: str | None = None
    created_at: datetime


class InteractionList(Page):
    items: list[InteractionRead]


class OrderCreate(_Body):
    product: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=200, examples=["数控车床 CK6150"])
    ]
    quantity: Annotated[int, Field(ge=1, le=1_000_000_000), JSON_INTEGER] = 1
    amount: Money
    ordered_at: DateTime
    channel: v.OrderChannel = "direct"
    external_id: Annotated[
        str | None,
        Field(
            pattern=v.PLAIN_TEXT,
            max_length=100,
            description="Your order number; resending it returns the same order",
        ),
    ] = None


class OrderRead(_Out):
    id: str
    customer_id: str
    product: str
    quantity: int
    amount: Money
    ordered_at: datetime
    channel: str
    external_id: str | None = None
    created_at: datetime


class OrderList(Page):
    items: list[OrderRead]


class ContractCreate(_Body):
    number: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=64, examples=["HT-2024-0501"])
    ]
    title: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=200, examples=["年度设备采购合同"])
    ]
    amount: Money
    signed_on: Date | None = None
    starts_on: Date | None = None
    ends_on: Date | None = None
    status: v.ContractStatus = "draft"


class ContractRead(_Out):
    id: str
    customer_id: str
    number: str
    title: str
    amount: Money
    signed_on: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    status: str
    created_at: datetime


class ContractList(Page):
    items: list[ContractRead]


class ServiceRecordCreate(_Body):
    category: v.ServiceCategory
    subject: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=200, examples=["设备异响投诉"])
    ]
    description: Annotated[str | None, Field(pattern=v.PLAIN_TEXT, max_length=5000)] = None
    satisfaction: Annotated[int, Field(ge=1, le=5), JSON_INTEGER] | None = None
    status: v.ServiceStatus = "open"
    opened_at: DateTime | None = None
    resolved_at: DateTime | None = None


class ServiceRecordRead(_Out):
    id: str
    customer_id: str
    category: str
    subject: str
    description: str | None = None
    satisfaction: int | None = None
    status: str
    opened_at: datetime
    resolved_at: datetime | None = None
    created_at: datetime


class ServiceRecordList(Page):
    items: list[ServiceRecordRead]


class ContactList(Page):
    items: list[ContactRead]


class CustomerView(_Out):
    """Everything about one customer at a glance."""

    customer: CustomerRead
    recent_interactions: list[InteractionRead] = []
    recent_orders: list[OrderRead] = []
    contracts: list[ContractRead] = []
    recent_service_records: list[ServiceRecordRead] = []
    interaction_count: int = 0
    order_count: int = 0
    lifetime_order_amount: Money | None = None
    last_interaction_at: datetime | None = None
    last_order_at: datetime | None = None
    open_service_records: int = 0


class CustomFieldCreate(_Body):
    """A field every customer may carry; an enum field lists its options, no other kind has any."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"required": ["type"], "properties": {"type": {"const": "enum"}}},
            "then": {"required": ["options"], "properties": {"options": {"minItems": 1}}},
            "else": {"properties": {"options": {"maxItems": 0}}},
        },
    )

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["erp_code"])]
    label: Annotated[str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100, examples=["ERP 编码"])]
    type: v.FieldType
    options: Annotated[
        list[Annotated[str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100)]],
        Field(max_length=200),
    ] = []
    required: StrictBool = False
    max_length: Annotated[int, Field(ge=1, le=10_000), JSON_INTEGER] | None = None


class CustomFieldRead(_Out):
    key: str
    label: str
    type: str
    options: list[str] = []
    required: bool = False
    max_length: int | None = None
    created_at: datetime


class CustomFieldList(_Out):
    items: list[CustomFieldRead]


class FieldError(BaseModel):
    field: Annotated[str, Field(examples=["contacts.0.phones.0"])]
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class RangeIn(_Body):
    """Bounds of a range test; at least one, and none of them null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    gte: Annotated[str, Field(min_length=1, max_length=40)] | Omitted = None
    gt: Annotated[str, Field(min_length=1, max_length=40)] | Omitted = None
    lte: Annotated[str, Field(min_length=1, max_length=40)] | Omitted = None
    lt: Annotated[str, Field(min_length=1, max_length=40)] | Omitted = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> "RangeIn":
        if self.gte is None and self.gt is None and self.lte is None and self.lt is None:
            raise ValueError("give at least one bound")
        return self


class ConditionIn(_Body):
    """One node of a condition tree: exactly one of all / any / not, or a field test."""

    all: Annotated[list["ConditionIn"] | None, Field(min_length=1, max_length=50)] = None
    any: Annotated[list["ConditionIn"] | None, Field(min_length=1, max_length=50)] = None
    not_: Annotated["ConditionIn | None", Field(alias="not")] = None
    field: Annotated[str | None, Field(max_length=40, examples=["tier"])] = None
    any_of: Annotated[list[str] | None, Field(max_length=500)] = None
    all_of: Annotated[list[str] | None, Field(max_length=500)] = None
    none_of: Annotated[list[str] | None, Field(max_length=500)] = None
    range: RangeIn | None = None
    exists: StrictBool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SearchRequest(_Body):
    """Free text plus conditions; results respect your scope and visible fields."""

    query: Annotated[str, Field(max_length=100, examples=["zhangsan"])] = ""
    filter: ConditionIn | None = None
    sort: Annotated[
        v.SearchSort,
        Field(description="relevance, or a field (with - to descend)", examples=["-deal_amount_12m"]),
    ] = "relevance"
    page_size: Annotated[int, Field(ge=1, le=100), JSON_INTEGER] = 20
    page_token: Annotated[str | None, Field(max_length=512)] = None
    facets: Annotated[list[Literal["industry", "region", "tier", "status", "tags"]], Field(max_length=5)] = []

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "query": "明辉",
                    "filter": {
                        "all": [
                            {"field": "industry_code", "any_of": ["C"]},
                            {"field": "tier", "any_of": ["A", "B"]},
                            {"field": "deal_amount_12m", "range": {"gte": "100000"}},
                        ]
                    },
                    "sort": "-deal_amount_12m",
                    "facets": ["region", "tier"],
                }
            ]
        },
    )


class SearchContact(_Out):
    name: str
    phones: list[str] = []
    emails: list[str] = []


class SearchHit(_Out):
    id: str
    name: str
    kind: str
    industry_code: str
    region_code: str | None = None
    tier: Annotated[str | None, Field(description="Absent when you may not see financial data")] = None
    status: str
    stage: str
    scale: str | None = None
    owner_id: str | None = None
    source_channel: str
    deal_amount_12m: Annotated[
        str | None, Field(description="Absent when you may not see financial data")
    ] = None
    last_order_at: datetime | None = None
    last_follow_up_at: datetime | None = None
    created_at: datetime | None = None
    contacts: list[SearchContact] = []
    tags: list[str] = []
    score: float = 0.0
    highlights: dict[str, str] = {}


class FacetBucketRead(_Out):
    value: str
    count: int


class SearchResults(Page):
    items: list[SearchHit]
    total: int
    facets: dict[str, list[FacetBucketRead]] = {}


class SuggestionRead(_Out):
    customer_id: str
    name: str
    highlighted: str


class SuggestionList(_Out):
    items: list[SuggestionRead]


class LoginRequest(_Body):
    employee_id: Annotated[str, Field(min_length=1, max_length=64, examples=["S1001"])]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    totp_code: Annotated[
        str | None, Field(max_length=32, description="The 6-digit code, or a recovery code")
    ] = None


class TokensRead(_Out):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str | None = None
    refresh_expires_in: int | None = None


class ChallengeRead(_Out):
    kind: Annotated[
        str, Field(description="password_change_required, totp_enrollment_required or totp_required")
    ]
    setup_token: str | None = None
    setup_token_expires_in: int | None = None
    totp_secret: str | None = None
    totp_provisioning_uri: str | None = None


class LoginResult(_Out):
    """Either tokens, or what must happen first (change the password, enrol or give TOTP)."""

    tokens: TokensRead | None = None
    challenge: ChallengeRead | None = None


class PasswordChange(_Body):
    setup_token: Annotated[str | None, Field(max_length=4096)] = None
    employee_id: Annotated[str | None, Field(max_length=64)] = None
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Annotated[str, Field(min_length=1, max_length=256)]
    totp_code: Annotated[
        str | None,
        Field(max_length=32, description="Required with employee_id: the 6-digit code, or a recovery code"),
    ] = None


class PasswordChangeResult(_Out):
    challenge: ChallengeRead | None = None


class SetupToken(_Body):
    setup_token: Annotated[str, Field(min_length=1, max_length=4096)]


class TotpEnrollment(_Out):
    totp_secret: str
    totp_provisioning_uri: str


class TotpVerification(_Body):
    setup_token: Annotated[str, Field(min_length=1, max_length=4096)]
    totp_code: Annotated[str, Field(min_length=6, max_length=32)]


class TotpVerified(_Out):
    recovery_codes: list[str]
    tokens: TokensRead


class RefreshToken(_Body):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class OAuthToken(_Out):
    """RFC 6749 §5.1 access token response."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str


class AuditEventRead(_Out):
    seq: int
    at: datetime
    actor: str
    actor_kind: str
    source: str | None = None
    service: str | None = None
    action: Annotated[str, Field(examples=["customer.read"])]
    target: Annotated[str, Field(examples=["customer:C20240501001"])]
    customer_ids: Annotated[
        list[str],
        Field(description="The customers a read returned (list page, search hits, segment members)"),
    ] = []
    fields: list[str] = []
    outcome: Annotated[str, Field(description="success, denied or failed")]
    trace_id: str | None = None
    details: dict[str, Any] | None = None
    prev_hash: str
    hash: str


class AuditEventList(Page):
    items: list[AuditEventRead]


class AuditVerification(_Out):
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: Annotated[str | None, Field(description="hash_mismatch, missing_event or broken_chain")] = None
    message: str | None = None


class SecurityAlertRead(_Out):
    id: str
    kind: Annotated[str, Field(description="failed_logins, repeated_denials, mass_viewing or off_hours")]
    actor: str
    summary: str
    first_seq: int
    last_seq: int
    count: int
    raised_at: datetime
    updated_at: datetime
    status: Annotated[str, Field(description="open or acknowledged")]
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


class SecurityAlertList(_Out):
    items: list[SecurityAlertRead]


RoleName = Annotated[str, Field(pattern=v.ROLE_NAME)]
Permission = Annotated[str, Field(pattern=v.PERMISSION)]


class UserCreate(_Body):
    employee_id: Annotated[str, Field(min_length=1, max_length=64, examples=["S1002"])]
    display_name: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100, examples=["李娜"])
    ]
    org_unit_id: Annotated[str | None, Field(max_length=64)] = None
    roles: Annotated[list[RoleName], Field(min_length=1, max_length=20, examples=[["sales"]])]


class UserUpdate(_Change):
    display_name: Annotated[str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100)] | Omitted = None
    org_unit_id: (
        Annotated[str, Field(max_length=64, description='"" takes the user out of their unit')] | Omitted
    ) = None
    roles: Annotated[list[RoleName], Field(min_length=1, max_length=20)] | Omitted = None
    status: Literal["active", "disabled"] | Omitted = None


class UserRead(_Out):
    employee_id: str
    display_name: str
    org_unit_id: str | None = None
    roles: list[str] = []
    status: str
    must_change_password: bool = False
    totp_enrolled: bool = False
    locked_until: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class UserCreated(_Out):
    user: UserRead
    initial_password: Annotated[str, Field(description="Shown this once; changed at first login")]


class UserList(Page):
    items: list[UserRead]


class PasswordReset(_Body):
    reset_totp: StrictBool = False


class OneTimePassword(_Out):
    one_time_password: str


class RoleBody(_Body):
    name: Annotated[RoleName, Field(examples=["auditor"])]
    description: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=200)] = ""
    permissions: Annotated[list[Permission], Field(max_length=100, examples=[["audit:read"]])]
    scope: v.RecordScope
    field_rules: dict[v.FieldGroup, v.FieldRule] = {}


class RoleUpdate(_Change):
    description: Annotated[str, Field(pattern=v.PLAIN_TEXT, max_length=200)] | Omitted = None
    permissions: Annotated[list[Permission], Field(max_length=100)] | Omitted = None
    scope: v.RecordScope | Omitted = None
    field_rules: dict[v.FieldGroup, v.FieldRule] | Omitted = None


class RoleRead(_Out):
    name: str
    description: str = ""
    permissions: list[str] = []
    scope: str
    field_rules: dict[str, str] = {}
    builtin: bool = False


class RoleList(_Out):
    items: list[RoleRead]


class OrgUnitBody(_Body):
    id: Annotated[str | None, Field(pattern=v.ORG_UNIT_ID, examples=["east"])] = None
    name: Annotated[str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100, examples=["华东区"])]
    parent_id: Annotated[str | None, Field(max_length=64)] = None
    kind: v.OrgUnitKind


class OrgUnitRead(_Out):
    id: str
    name: str
    parent_id: str | None = None
    kind: str | None = None


class OrgUnitList(_Out):
    items: list[OrgUnitRead]


class ApiClientCreate(_Body):
    name: Annotated[
        str, Field(pattern=v.VISIBLE_TEXT, min_length=1, max_length=100, examples=["天猫旗舰店订单同步"])
    ]
    scopes: Annotated[
        list[Annotated[str, Field(pattern=v.SCOPE)]],
        Field(min_length=1, max_length=50, examples=[["customer:read", "related:write"]]),
    ]
    rate_limit_per_minute: Annotated[int, Field(ge=0, le=100_000), JSON_INTEGER] = 0
    ip_allowlist: Annotated[list[str], Field(max_length=50, examples=[["203.0.113.0/24"]])] = []
    record_scope: v.RecordScope = "own"
    kind: Annotated[
        Literal["partner", "service"],
        Field(description="service: a platform service's own client (records audit events for others)"),
    ] = "partner"


class ApiClientRead(_Out):
    client_id: str
    name: str
    scopes: list[str] = []
    rate_limit_per_minute: int = 0
    ip_allowlist: list[str] = []
    status: str
    record_scope: str
    kind: str = "partner"
    created_at: datetime | None = None
    previous_secret_expires_at: datetime | None = None


class ApiClientSecret(_Out):
    client: ApiClientRead
    client_secret: Annotated[str, Field(description="Shown this once")]


class ApiClientList(_Out):
    items: list[ApiClientRead]


class SecretRotation(_Body):
    grace_seconds: Annotated[int, Field(ge=0, le=30 * 24 * 3600), JSON_INTEGER] = 0


# -- privacy rights -----------------------------------------------------------------------------

ConsentPurpose = v.Purpose
# What a data export is for: serving existing customers needs no consent, the rest do.
ExportPurpose = Literal["customer_service", ConsentPurpose]


class ConsentCreate(_Body):
    purpose: Annotated[ConsentPurpose, Field(description="What the person agrees their data is used for")]
    channel: Annotated[
        v.ConsentChannel,
        Field(description="How the consent was given"),
    ]
    given_at: Annotated[DateTime | None, Field(description="When it was given; defaults to now")] = None
    evidence: Annotated[
        str,
        Field(
            pattern=v.PLAIN_TEXT,
            min_length=1,
            max_length=1000,
            description="How it can be proven: form ID, call recording reference, scanned page…",
            examples=["web form WF-2024-0501-7781, IP 203.0.113.7"],
        ),
    ]


class ConsentRead(_Out):
    id: str
    customer_id: str
    purpose: str
    channel: str
    given_at: datetime
    recorded_by: str
    evidence: str
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    active: bool


class ConsentList(_Out):
    items: list[ConsentRead]


class CustomerLookup(_Body):
    """Exactly one contact detail to find customers by (sent in the body, never in a URL)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
                for name in ("phone", "email", "id_number")
            ]
        }
    )

    phone: Annotated[
        str | None,
        Field(max_length=32, description="A contact's phone, with or without +86", examples=["13812345678"]),
    ] = None
    email: Annotated[str | None, Field(max_length=254, description="A contact's e-mail")] = None
    id_number: Annotated[
        str | None, Field(max_length=18, description="An individual's resident ID number")
    ] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "CustomerLookup":
        given = [name for name in ("phone", "email", "id_number") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of phone, email, id_number")
        return self


class ErasureCreate(_Body):
    reason: Annotated[
        str,
        Field(
            pattern=v.PLAIN_TEXT,
            max_length=500,
            description="Why: the request's reference (kept in the audit log; never personal data)",
            examples=["PIPL request 2024-117"],
        ),
    ] = ""


class ErasureRead(_Out):
    customer_id: str
    removed: Annotated[dict[str, int], Field(description="Rows removed from the archive, by kind")]
    key_destroyed: Annotated[
        bool, Field(description="Whether the customer's data key was destroyed now (false: it already was)")
    ]
    services: Annotated[
        dict[str, str], Field(description="What each service did: erased, or the follower that removes it")
    ]


class PrivacyExport(_Out):
    format: Annotated[str, Field(examples=["crm.privacy-export/v1"])]
    exported_at: datetime
    customer_id: str
    archive: Annotated[
        dict[str, Any], Field(description="The profile archive: record, related records, consents, history")
    ]
    tags: Annotated[
        dict[str, Any] | None,
        Field(description="Current tags and tag history (tagging service); null without tag:read"),
    ] = None
    access_log: Annotated[
        list[dict[str, Any]] | None,
        Field(description="Who read or changed the record (audit events); null without audit:read"),
    ] = None
