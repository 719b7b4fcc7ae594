"""Search: fuzzy, pinyin and combined search over customers, and suggestions while typing."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from crm.common.v1 import common_pb2
from crm.search.v1 import search_pb2 as pb
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway.clients import SearchClient
from services.gateway.convert import to_json
from services.gateway.deps import metadata, search
from services.gateway.permissions import require

router = APIRouter(prefix="/api/v1/search", tags=["search"])


def condition(node: schemas.ConditionIn) -> common_pb2.Condition:
    """A condition tree from its JSON form; a node must say exactly one thing."""
    tests = {
        k: v
        for k, v in (
            ("any_of", node.any_of),
            ("all_of", node.all_of),
            ("none_of", node.none_of),
            ("range", node.range),
            ("exists", node.exists),
        )
        if v is not None
    }
    kinds = [
        k
        for k, v in (("all", node.all), ("any", node.any), ("not", node.not_), ("field", node.field))
        if v is not None
    ]
    if len(kinds) != 1 or (kinds == ["field"]) != bool(tests) or len(tests) > 1:
        raise HTTPException(
            422,
            "each condition is exactly one of all, any, not, or a field with one "
            "test (any_of, all_of, none_of, range, exists)",
        )
    kind = kinds[0]
    if kind in ("all", "any"):
        children = [condition(c) for c in getattr(node, kind)]
        return common_pb2.Condition(**{kind: common_pb2.ConditionList(conditions=children)})
    if kind == "not":
        assert node.not_ is not None
        return common_pb2.Condition(**{"not": condition(node.not_)})
    test = common_pb2.FieldTest(field=node.field or "")
    ((name, value),) = tests.items()
    if name == "range":
        test.range.CopyFrom(common_pb2.Range(**value.model_dump(exclude_none=True)))
    elif name == "exists":
        test.exists = value
    else:
        getattr(test, name).values.extend(value)
    return common_pb2.Condition(field=test)


_HIT_TEXT = tuple(
    f.name for f in pb.CustomerHit.DESCRIPTOR.fields if f.type == f.TYPE_STRING and not f.is_repeated
)
_HIT_TIMES = ("last_order_at", "last_follow_up_at", "created_at")


def _hit(hit: pb.CustomerHit) -> dict[str, Any]:
    """A hit's JSON shape, field by field (json_format cost more than the search behind it)."""
    data: dict[str, Any] = {name: getattr(hit, name) for name in _HIT_TEXT}
    data["deal_amount_12m"] = hit.deal_amount_12m or None
    data["tier"] = hit.tier or None
    for name in _HIT_TIMES:
        data[name] = getattr(hit, name).ToJsonString() if hit.HasField(name) else None
    data["contacts"] = [
        {"name": c.name, "phones": list(c.phones), "emails": list(c.emails)} for c in hit.contacts
    ]
    data["tags"] = list(hit.tags)
    data["score"] = hit.score
    data["highlights"] = dict(hit.highlights)
    return data


@router.post(
    "/customers",
    response_model=schemas.SearchResults,
    operation_id="searchCustomers",
    responses={422: {"model": schemas.Problem}, 403: {"model": schemas.Problem}},
)
async def search_customers(
    body: schemas.SearchRequest,
    request: Request,
    caller: Caller = Depends(require("customer:read")),
    client: SearchClient = Depends(search),
) -> Any:
    """Find customers by name, company, contact, phone, e-mail or tag — typos, partial input,
    pinyin and initials included — combined with conditions; facets and deep pagination."""
    req = pb.SearchCustomersRequest(
        query=body.query,
        sort="" if body.sort == "relevance" else body.sort,
        page_size=body.page_size,
        page_token=body.page_token or "",
        facets=body.facets,
    )
    if body.filter is not None:
        req.filter.CopyFrom(condition(body.filter))
    reply = await client.search_customers(metadata(request, caller), req)
    return {
        "items": [_hit(h) for h in reply.hits],
        "total": reply.total,
        "next_page_token": reply.next_page_token or None,
        "facets": {f.name: [{"value": b.value, "count": b.count} for b in f.buckets] for f in reply.facets},
    }


@router.get("/suggest", response_model=schemas.SuggestionList, operation_id="suggestCustomers")
async def suggest_customers(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=50, description="What has been typed so far")],
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
    caller: Caller = Depends(require("customer:read")),
    client: SearchClient = Depends(search),
) -> Any:
    """Customer names completing what is being typed (Chinese, pinyin or initials)."""
    reply = await client.suggest_customers(
        metadata(request, caller), pb.SuggestCustomersRequest(prefix=q, limit=limit)
    )
    return {"items": [to_json(s) for s in reply.suggestions]}
