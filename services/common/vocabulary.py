"""The archive's closed vocabularies: one definition for the profile service's validation and the
gateway's schemas (and so the OpenAPI document), so what the API documents is what it enforces."""

from typing import Literal

CustomerKind = Literal["company", "individual"]
Scale = Literal["small", "medium", "large"]
Tier = Literal["A", "B", "C"]
Status = Literal["potential", "deal", "churned"]
Stage = Literal["lead", "intent", "proposal", "deal", "repeat", "loyal", "churned"]
SourceChannel = Literal[
    "web_form", "ecommerce", "social", "trade_show", "referral", "manual", "import", "api", "other"
]
Gender = Literal["male", "female", "unknown"]
InteractionChannel = Literal["phone", "visit", "email", "wechat", "meeting", "web", "other"]
InteractionType = Literal["follow_up", "inquiry", "complaint", "demo", "visit", "other"]
OrderChannel = Literal["online", "offline", "ecommerce", "distributor", "direct", "other"]
ContractStatus = Literal["draft", "active", "expired", "terminated"]
ServiceCategory = Literal["complaint", "inquiry", "feedback", "repair", "other"]
ServiceStatus = Literal["open", "resolved", "closed"]
FieldType = Literal["string", "integer", "number", "boolean", "date", "enum"]
# Purposes of processing that need the person's consent, and how a consent can be given.
Purpose = Literal["marketing", "analytics", "profiling", "third_party_sharing", "cross_border_transfer"]
ConsentChannel = Literal["web_form", "paper", "phone", "email", "app", "in_person", "api"]
# How a customer list can be ordered: a field, or "-" and a field to descend.
CustomerSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "name",
    "-name",
    "deal_amount_12m",
    "-deal_amount_12m",
    "last_follow_up_at",
    "-last_follow_up_at",
]
# How search results can be ordered: by relevance (the default), or a field ascending or "-" and
# the field descending.
SearchSort = Literal[
    "relevance",
    "deal_amount_12m",
    "-deal_amount_12m",
    "last_order_at",
    "-last_order_at",
    "last_follow_up_at",
    "-last_follow_up_at",
    "created_at",
    "-created_at",
]
# The organisation tree and what a role may see of each group of customer fields.
OrgUnitKind = Literal["company", "region", "team"]
FieldGroup = Literal["contact", "financial", "purchase"]
FieldRule = Literal["visible", "masked", "hidden"]
RecordScope = Literal["own", "team", "org", "all"]
# An org unit's ID as chosen by an administrator.
ORG_UNIT_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# A WeChat ID: 6 to 20 letters, digits, "-" or "_", starting with a letter.
WECHAT_ID = r"^[a-zA-Z][-_a-zA-Z0-9]{5,19}$"
# A role's name, and a permission written as resource:action ("*" for every one).
ROLE_NAME = r"^[a-z][a-z0-9_-]{1,63}$"
PERMISSION = r"^(\*|[a-z_]+:(\*|[a-z_-]+))$"
# What an API client may be granted: a permission, but never "*".
SCOPE = r"^[a-z_]+:(\*|[a-z_-]+)$"
# Free text without control characters (tab, line feed and carriage return are fine): NUL and
# the like cannot be stored everywhere (PostgreSQL refuses NUL), logged or audited faithfully.
PLAIN_TEXT = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
# Plain text with at least one visible character: what a required name or summary must be (the
# services strip surrounding blanks, so "  " is no name).
_PLAIN = r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
VISIBLE_TEXT = rf"^{_PLAIN}*[^\s\x00-\x08\x0B\x0C\x0E-\x1F\x7F]{_PLAIN}*$"
