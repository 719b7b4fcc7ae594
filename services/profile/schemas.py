"""Input validation of the customer archive, with specific messages per field."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric

from services.common.errors import FieldViolation, InvalidArgument
from services.common.vocabulary import (  # noqa: F401  (the profile domain's names for them)
    PLAIN_TEXT,
    WECHAT_ID,
    ConsentChannel,
    ContractStatus,
    CustomerKind,
    FieldType,
    Gender,
    InteractionChannel,
    InteractionType,
    OrderChannel,
    Purpose,
    Scale,
    ServiceCategory,
    ServiceStatus,
    SourceChannel,
    Stage,
    Status,
    Tier,
)
from services.profile import codes

_PLAIN_TEXT = re.compile(PLAIN_TEXT)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")
_CLOCK_SKEW = timedelta(minutes=5)
M = TypeVar("M", bound=BaseModel)


def normalize_phone(value: str) -> str:
    """A mainland mobile (11 digits) or landline (area code-number) in canonical form."""
    digits = re.sub(r"[\s\-()]", "", value)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if _MOBILE.fullmatch(digits):
        return digits
    if _LANDLINE.fullmatch(digits):
        area = 3 if digits[1] in "12" else 4  # 010, 020-029 have 3 digits; others 4
        return f"{digits[:area]}-{digits[area:]}"
    raise ValueError(
        "not a mainland China phone number: expected an 11-digit mobile starting 13-19 "
        "or a landline with area code, e.g. 13812345678 or 010-62345678"
    )


def check_industry(value: str) -> str:
    """A known GB/T 4754-2017 code."""
    code = value.strip().upper()
    if codes.industry(code) is None:
        raise ValueError(f"unknown GB/T 4754-2017 industry code {value!r}")
    return code


def check_region(value: str) -> str:
    """A known GB/T 2260 division code."""
    if codes.region(value.strip()) is None:
        raise ValueError(f"unknown GB/T 2260 region code {value!r}")
    return value.strip()


def _not_future(value: datetime) -> datetime:
    if value > datetime.now(UTC) + _CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return value.astimezone(UTC)


def check_id_number(value: str) -> str:
    """A mainland resident identity card number (GB 11643-1999): 18 characters, a real birth date
    and a valid check digit. The place code is not checked against a list: counties get renamed,
    and a real person's number must never be refused."""
    number = ric.compact(value).upper()
    problem = ""
    if len(number) != 18 or not number[:17].isdigit():
        problem = "must be 17 digits and a check character (0-9 or X)"
    elif number[-1] != ric.calc_check_digit(number):
        problem = "the check character does not match (a digit was mistyped)"
    else:
        try:
            ric.get_birth_date(number)
        except stdnum_exceptions.ValidationError:
            problem = "the birth date inside it is not a real date"
    if problem:
        raise ValueError(f"not a valid resident identity card number: {problem}")
    return number


def _plausible_birthday(value: date) -> date:
    if not date(1900, 1, 1) <= value <= date.today():
        raise ValueError("must be between 1900-01-01 and today")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Phone = Annotated[str, AfterValidator(normalize_phone)]
PastTime = Annotated[AwareDatetime, AfterValidator(_not_future)]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        # Control characters (NUL above all) cannot be stored everywhere, logged or audited faithfully.
        texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        if any(isinstance(t, str) and not _PLAIN_TEXT.match(t) for t in texts):
            raise ValueError("must not contain control characters")
        return value


class ContactInput(_Input):
    name: Annotated[Text, Field(max_length=100)]
    title: Annotated[str, Field(max_length=100)] | None = None
    phones: Annotated[list[Phone], Field(max_length=10)] = []
    emails: Annotated[list[EmailStr], Field(max_length=10)] = []
    wechat: Annotated[str, Field(pattern=WECHAT_ID)] | None = None
    is_primary: bool = False
    departed: bool = False

    @model_validator(mode="after")
    def _reachable(self) -> "ContactInput":
        if not (self.phones or self.emails or self.wechat):
            raise ValueError("a contact needs at least one phone, e-mail or WeChat ID")
        return self


class CustomerInput(_Input):
    name: Annotated[Text, Field(max_length=200)]
    kind: CustomerKind = "company"
    industry_code: Annotated[str, AfterValidator(check_industry)]
    region_code: Annotated[str, AfterValidator(check_region)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    scale: Scale | None = None
    status: Status = "potential"
    stage: Stage = "lead"
    owner_id: Annotated[str, Field(max_length=64)] | None = None
    source_channel: SourceChannel = "manual"
    last_follow_up_at: PastTime | None = None
    gender: Gender | None = None
    birthday: Annotated[date, AfterValidator(_plausible_birthday)] | None = None
    # Individuals only; stored sealed, found through a blind index.
    id_number: Annotated[str, AfterValidator(check_id_number)] | None = None
    preferences: dict[str, Any] = {}
    interests: Annotated[list[Annotated[Text, Field(max_length=50)]], Field(max_length=50)] = []
    notes: Annotated[str, Field(max_length=5000)] | None = None
    custom_fields: dict[str, Any] = {}
    credit_limit: Amount | None = None
    outstanding_amount: Amount | None = None
    loyalty_points: Annotated[int, Field(ge=0, le=10**12)] = 0
    contacts: Annotated[list[ContactInput], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _individual_fields(self) -> "CustomerInput":
        if self.kind == "company" and (self.gender or self.birthday or self.id_number):
            raise ValueError("gender, birthday and ID number apply to individual customers only")
        if sum(c.is_primary for c in self.contacts) > 1:
            raise ValueError("at most one contact can be primary")
        return self


class InteractionInput(_Input):
    channel: InteractionChannel
    type: InteractionType = "follow_up"
    occurred_at: PastTime
    summary: Annotated[Text, Field(max_length=5000)]
    by_user: Annotated[str, Field(max_length=64)] | None = None


class OrderInput(_Input):
    product: Annotated[Text, Field(max_length=200)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000_000)] = 1
    amount: Amount
    ordered_at: PastTime
    channel: OrderChannel = "direct"
    external_id: Annotated[str, Field(max_length=100)] | None = None


class ContractInput(_Input):
    number: Annotated[Text, Field(max_length=64)]
    title: Annotated[Text, Field(max_length=200)]
    amount: Amount
    signed_on: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    status: ContractStatus = "draft"

    @model_validator(mode="after")
    def _period(self) -> "ContractInput":
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class ServiceRecordInput(_Input):
    category: ServiceCategory
    subject: Annotated[Text, Field(max_length=200)]
    description: Annotated[str, Field(max_length=5000)] | None = None
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None
    status: ServiceStatus = "open"
    opened_at: PastTime | None = None
    resolved_at: PastTime | None = None

    @model_validator(mode="after")
    def _resolution(self) -> "ServiceRecordInput":
        if self.resolved_at and self.opened_at and self.resolved_at < self.opened_at:
            raise ValueError("resolved_at must not be before opened_at")
        return self


class CustomFieldInput(_Input):
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    label: Annotated[Text, Field(max_length=100)]
    type: FieldType
    options: Annotated[list[Annotated[Text, Field(max_length=100)]], Field(max_length=200)] = []
    required: bool = False
    max_length: Annotated[int, Field(ge=1, le=10_000)] | None = None

    @model_validator(mode="after")
    def _options(self) -> "CustomFieldInput":
        if (self.type == "enum") != bool(self.options):
            raise ValueError("options are required for enum fields and allowed only there")
        return self


class ConsentInput(_Input):
    purpose: Purpose
    channel: ConsentChannel
    # When the person gave it; defaults to now, never in the future.
    given_at: PastTime | None = None
    # How it was obtained: form ID, call recording reference, scanned page…
    evidence: Annotated[str, Field(min_length=1, max_length=1000)]


def parse(model: type[M], data: dict[str, Any], prefix: str = "") -> M:
    """Validate data against model; InvalidArgument listing every bad field otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgument(
            f"invalid {model.__name__.removesuffix('Input').lower()}",
            [
                FieldViolation(
                    prefix + ".".join(str(p) for p in err["loc"])
                    if err["loc"]
                    else prefix.rstrip(".") or "body",
                    err["msg"].removeprefix("Value error, "),
                )
                for err in exc.errors()
            ],
        ) from None


def check_custom_fields(
    values: dict[str, Any], definitions: dict[str, Any], *, creating: bool
) -> dict[str, Any]:
    """Check custom field values against their definitions; returns them normalized."""
    violations: list[FieldViolation] = []
    clean: dict[str, Any] = {}
    for key, value in values.items():
        spec = definitions.get(key)
        where = f"custom_fields.{key}"
        if spec is None:
            violations.append(FieldViolation(where, "no such custom field is defined"))
            continue
        if value is None:
            if spec.required:
                violations.append(FieldViolation(where, "this custom field is required"))
            continue
        problem = _custom_value_problem(spec, value)
        if problem:
            violations.append(FieldViolation(where, problem))
        else:
            clean[key] = value
    if creating:
        for key, spec in definitions.items():
            if spec.required and key not in values:
                violations.append(FieldViolation(f"custom_fields.{key}", "this custom field is required"))
    if violations:
        raise InvalidArgument("invalid custom fields", violations)
    return clean


def _custom_value_problem(spec: Any, value: Any) -> str | None:
    match spec.type:
        case "string":
            if not isinstance(value, str):
                return "must be a string"
            if spec.max_length and len(value) > spec.max_length:
                return f"must be at most {spec.max_length} characters"
        case "integer":
            if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
                return "must be an integer"
        case "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return "must be a number"
        case "boolean":
            if not isinstance(value, bool):
                return "must be true or false"
        case "date":
            try:
                date.fromisoformat(value)
            except (TypeError, ValueError):
                return "must be a date like 2024-05-01"
        case "enum":
            if value not in spec.options:
                return f"must be one of {', '.join(spec.options)}"
    return None
