"""Response bodies of the analytics views (documented in the OpenAPI)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.gateway.schemas import RangeIn

# The customer fields the analytics read model keeps, and so the ones a view may be filtered on.
AnalyticsField = Literal[
    "industry_code",
    "region_code",
    "tier",
    "status",
    "stage",
    "scale",
    "kind",
    "owner_id",
    "source_channel",
    "deal_amount_12m",
    "created_at",
]


class AnalyticsConditionIn(BaseModel):
    """One node of a filter: exactly one of all / any / not, or a field test (the segment
    condition language without behaviour aggregates, over the fields analytics keeps)."""

    all: Annotated[list["AnalyticsConditionIn"] | None, Field(min_length=1, max_length=50)] = None
    any: Annotated[list["AnalyticsConditionIn"] | None, Field(min_length=1, max_length=50)] = None
    not_: Annotated["AnalyticsConditionIn | None", Field(alias="not")] = None
    field: AnalyticsField | None = None
    any_of: Annotated[list[str] | None, Field(max_length=500)] = None
    all_of: Annotated[list[str] | None, Field(max_length=500)] = None
    none_of: Annotated[list[str] | None, Field(max_length=500)] = None
    range: RangeIn | None = None
    exists: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @property
    def behavior(self) -> None:
        """Analytics filters have no behaviour tests (the shared converter asks)."""
        return None


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AnalyticsBucket(_Out):
    key: Annotated[str, Field(description="The value counted; empty for customers without one")]
    name: Annotated[str, Field(description="Display name of a code (industry, region)")] = ""
    count: int
    parent: Annotated[str, Field(description="A city's province code")] = ""


class AnalyticsDimension(_Out):
    name: Annotated[str, Field(examples=["industry"])]
    buckets: list[AnalyticsBucket]


class _Withheld(_Out):
    withheld: Annotated[
        list[str], Field(description="Figures left out: the caller may not see the data they come from")
    ] = []
    as_of: datetime | None = None
    filter: Annotated[AnalyticsConditionIn | None, Field(description="The filter applied, if any")] = None


class DistributionRead(_Withheld):
    total: int
    dimensions: list[AnalyticsDimension]


class GrowthPoint(_Out):
    period_start: Annotated[str, Field(examples=["2026-11-01"])]
    new: int
    churned: int
    net: int
    total: int


class GrowthRead(_Withheld):
    period: str
    points: list[GrowthPoint]


class FunnelStage(_Out):
    stage: str
    count: int
    conversion_percent: float
    weakest: bool


class FunnelRead(_Withheld):
    stages: list[FunnelStage]
    overall_conversion_percent: float


class PortraitRead(_Withheld):
    total: int
    provinces: list[AnalyticsBucket]
    top_industries: list[AnalyticsBucket]
    scales: list[AnalyticsBucket]
    kinds: list[AnalyticsBucket]
    tiers: list[AnalyticsBucket] = []
    average_deal_amount_12m: Annotated[str | None, Field(description="CNY; null when withheld")] = None
