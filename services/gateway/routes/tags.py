"""Tags: the catalogue, tagging customers (one, a list or a segment), tag history, tag rules."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from google.protobuf import field_mask_pb2

from crm.common.v1 import common_pb2
from crm.tagging.v1 import tagging_pb2 as pb
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway import schemas_tagging as s
from services.gateway.clients import TaggingClient
from services.gateway.convert import to_json
from services.gateway.deps import metadata, tagging
from services.gateway.permissions import require

router = APIRouter(prefix="/api/v1", tags=["tags"])

CustomerId = Annotated[
    str, Path(pattern=r"^C\d{11,16}$", description="Customer ID", examples=["C20240501001"])
]
TagId = Annotated[str, Path(min_length=1, max_length=36, description="Tag ID")]
RuleId = Annotated[str, Path(min_length=1, max_length=36, description="Tag rule ID")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": schemas.Problem},
    404: {"model": schemas.Problem},
    409: {"model": schemas.Problem, "description": "Name taken, or a system tag changed by hand"},
    422: {"model": schemas.Problem, "description": "Invalid fields, listed in errors"},
}


def condition(node: s.SegmentConditionIn) -> common_pb2.Condition:
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
        for k, v in (
            ("all", node.all),
            ("any", node.any),
            ("not", node.not_),
            ("behavior", node.behavior),
            ("field", node.field),
        )
        if v is not None
    ]
    if len(kinds) != 1 or (kinds == ["field"]) != bool(tests) or len(tests) > 1:
        raise HTTPException(
            422,
            "each condition is exactly one of all, any, not, behavior, or a field with one "
            "test (any_of, all_of, none_of, range, exists)",
        )
    kind = kinds[0]
    if kind in ("all", "any"):
        children = [condition(c) for c in getattr(node, kind)]
        return common_pb2.Condition(**{kind: common_pb2.ConditionList(conditions=children)})
    if kind == "not":
        assert node.not_ is not None
        return common_pb2.Condition(**{"not": condition(node.not_)})
    if kind == "behavior":
        assert node.behavior is not None
        b = node.behavior
        return common_pb2.Condition(
            behavior=common_pb2.BehaviorTest(
                source=b.source,
                days=b.days,
                measure=b.measure,
                channels=b.channels,
                types=b.types,
                products=b.products,
                summary_contains=b.summary_contains,
                range=common_pb2.Range(**b.range.model_dump(exclude_none=True)),
            )
        )
    test = common_pb2.FieldTest(field=node.field or "")
    ((name, value),) = tests.items()
    if name == "range":
        test.range.CopyFrom(common_pb2.Range(**value.model_dump(exclude_none=True)))
    elif name == "exists":
        test.exists = value
    else:
        getattr(test, name).values.extend(value)
    return common_pb2.Condition(field=test)


def condition_json(cond: common_pb2.Condition) -> dict[str, Any]:
    """A condition tree in the same JSON shape requests use."""
    kind = cond.WhichOneof("kind")
    if kind in ("all", "any"):
        return {kind: [condition_json(c) for c in getattr(cond, kind).conditions]}
    if kind == "not":
        return {"not": condition_json(getattr(cond, "not"))}
    if kind == "behavior":
        b = cond.behavior
        data: dict[str, Any] = {"source": b.source, "days": b.days, "measure": b.measure or "count"}
        for name in ("channels", "types", "products"):
            if getattr(b, name):
                data[name] = list(getattr(b, name))
        if b.summary_contains:
            data["summary_contains"] = b.summary_contains
        data["range"] = {k: v for k, v in to_json(b.range).items() if v}
        return {"behavior": data}
    if kind == "field":
        test = cond.field
        which = test.WhichOneof("test")
        if which in ("any_of", "all_of", "none_of"):
            return {"field": test.field, which: list(getattr(test, which).values)}
        if which == "range":
            return {"field": test.field, "range": {k: v for k, v in to_json(test.range).items() if v}}
        return {"field": test.field, "exists": test.exists}
    return {}


def _tag(tag: pb.Tag) -> dict[str, Any]:
    return to_json(tag)


def _rule(rule: pb.TagRule) -> dict[str, Any]:
    data = to_json(rule)
    data["condition"] = condition_json(rule.condition)
    return data


@router.get("/tags", response_model=s.TagList, operation_id="listTags")
async def list_tags(
    request: Request,
    group: Annotated[str, Query(max_length=30, description="Only this group")] = "",
    caller: Caller = Depends(require("tag:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Every tag (or one group's), with how many customers carry each."""
    reply = await client.list_tags(metadata(request, caller), pb.ListTagsRequest(group=group))
    return {"items": [_tag(t) for t in reply.tags]}


@router.post("/tags", status_code=201, response_model=s.TagRead, operation_id="createTag", responses=_ERRORS)
async def create_tag(
    body: s.TagCreate,
    request: Request,
    caller: Caller = Depends(require("tag:write")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """A new tag; names are unique within a group. System tags are assigned by rules only."""
    reply = await client.create_tag(
        metadata(request, caller), pb.CreateTagRequest(tag=pb.Tag(**body.model_dump()))
    )
    return _tag(reply.tag)


@router.patch("/tags/{tag_id}", response_model=s.TagRead, operation_id="updateTag", responses=_ERRORS)
async def update_tag(
    tag_id: TagId,
    body: s.TagUpdate,
    request: Request,
    caller: Caller = Depends(require("tag:write")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Rename, regroup, recolour or describe a tag; its assignments stay."""
    fields = body.model_dump(exclude_unset=True)
    if not fields or any(v is None for v in fields.values()):
        raise HTTPException(422, "send at least one field to change, none of them null")
    req = pb.UpdateTagRequest(
        tag_id=tag_id, tag=pb.Tag(**fields), update_mask=field_mask_pb2.FieldMask(paths=sorted(fields))
    )
    reply = await client.update_tag(metadata(request, caller), req)
    return _tag(reply.tag)


@router.delete("/tags/{tag_id}", response_model=s.TagDeleted, operation_id="deleteTag", responses=_ERRORS)
async def delete_tag(
    tag_id: TagId,
    request: Request,
    caller: Caller = Depends(require("tag:write")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Delete a tag with its rules; customers lose it (recorded in their tag history)."""
    reply = await client.delete_tag(metadata(request, caller), pb.DeleteTagRequest(tag_id=tag_id))
    return {"removed_assignments": reply.removed_assignments}


@router.post("/tags/{tag_id}/merge", response_model=s.TagMerged, operation_id="mergeTags", responses=_ERRORS)
async def merge_tags(
    tag_id: TagId,
    body: s.TagMerge,
    request: Request,
    caller: Caller = Depends(require("tag:write")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Merge other tags into this one: their assignments move here, then they are deleted."""
    req = pb.MergeTagsRequest(source_tag_ids=body.source_tag_ids, target_tag_id=tag_id)
    reply = await client.merge_tags(metadata(request, caller), req)
    return {"tag": _tag(reply.tag), "moved_assignments": reply.moved_assignments}


@router.post("/tags/bulk", response_model=s.BulkTagResult, operation_id="bulkTagCustomers", responses=_ERRORS)
async def bulk_tag(
    body: s.BulkTagChange,
    request: Request,
    caller: Caller = Depends(require("tag:assign")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Assign or remove tags on a list of customers or on a segment's members (within your scope)."""
    if (body.customer_ids is None) == (body.segment_id is None):
        raise HTTPException(422, "give either customer_ids or segment_id")
    selection = (
        pb.CustomerSelection(segment_id=body.segment_id)
        if body.segment_id
        else pb.CustomerSelection(customer_ids=pb.CustomerIds(ids=body.customer_ids or []))
    )
    md = metadata(request, caller)
    if body.action == "assign":
        reply: Any = await client.assign_tags(
            md, pb.AssignTagsRequest(customers=selection, tag_ids=body.tag_ids)
        )
    else:
        reply = await client.remove_tags(md, pb.RemoveTagsRequest(customers=selection, tag_ids=body.tag_ids))
    return {"changed": reply.changed, "customers": reply.customers}


async def _customer_tags(client: TaggingClient, md: Any, customer_id: str) -> dict[str, Any]:
    reply = await client.list_customer_tags(md, pb.ListCustomerTagsRequest(customer_ids=[customer_id]))
    if not reply.customers:
        raise HTTPException(404, f"no customer {customer_id} within your scope")
    return {"customer_id": customer_id, "tags": [to_json(t) for t in reply.customers[0].tags]}


@router.get(
    "/customers/{customer_id}/tags", response_model=s.CustomerTagsRead, operation_id="listCustomerTags"
)
async def list_customer_tags(
    customer_id: CustomerId,
    request: Request,
    caller: Caller = Depends(require("tag:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """A customer's tags: which, by whom, when, manual or by which rule."""
    return await _customer_tags(client, metadata(request, caller), customer_id)


@router.post(
    "/customers/{customer_id}/tags",
    response_model=s.CustomerTagsRead,
    operation_id="tagCustomer",
    responses=_ERRORS,
)
async def tag_customer(
    customer_id: CustomerId,
    body: s.CustomerTagsChange,
    request: Request,
    caller: Caller = Depends(require("tag:assign")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Put tags on a customer (already present ones stay as they are)."""
    md = metadata(request, caller)
    req = pb.AssignTagsRequest(customers=pb.CustomerSelection(customer_id=customer_id), tag_ids=body.tag_ids)
    await client.assign_tags(md, req)
    return await _customer_tags(client, md, customer_id)


@router.delete(
    "/customers/{customer_id}/tags",
    response_model=s.CustomerTagsRead,
    operation_id="untagCustomer",
    responses=_ERRORS,
)
async def untag_customer(
    customer_id: CustomerId,
    request: Request,
    tag_id: Annotated[list[str], Query(min_length=1, max_length=50, description="Tags to take off")],
    caller: Caller = Depends(require("tag:assign")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Take tags off a customer (`?tag_id=…&tag_id=…`)."""
    md = metadata(request, caller)
    req = pb.RemoveTagsRequest(customers=pb.CustomerSelection(customer_id=customer_id), tag_ids=tag_id)
    await client.remove_tags(md, req)
    return await _customer_tags(client, md, customer_id)


@router.get(
    "/customers/{customer_id}/tags/history",
    response_model=s.TagHistoryList,
    operation_id="listCustomerTagHistory",
    responses=_ERRORS,
)
async def tag_history(
    customer_id: CustomerId,
    request: Request,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=40)] = None,
    caller: Caller = Depends(require("tag:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Every tag put on or taken off a customer, newest first: who, when, how."""
    req = pb.ListTagHistoryRequest(
        customer_id=customer_id, page=common_pb2.PageRequest(page_size=page_size, page_token=page_token or "")
    )
    reply = await client.list_tag_history(metadata(request, caller), req)
    return {
        "items": [to_json(e) for e in reply.entries],
        "next_page_token": reply.page.next_page_token or None,
    }


@router.get("/tag-rules", response_model=s.TagRuleList, operation_id="listTagRules")
async def list_tag_rules(
    request: Request,
    caller: Caller = Depends(require("tag:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Every automatic tag rule."""
    reply = await client.list_tag_rules(metadata(request, caller), pb.ListTagRulesRequest())
    return {"items": [_rule(r) for r in reply.rules]}


@router.post(
    "/tag-rules",
    status_code=201,
    response_model=s.TagRuleRead,
    operation_id="createTagRule",
    responses=_ERRORS,
)
async def create_tag_rule(
    body: s.TagRuleCreate,
    request: Request,
    caller: Caller = Depends(require("tag_rule:write")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """A rule that assigns its tag to customers matching the condition and removes it from those
    it tagged that stop matching; evaluated on every change and on a schedule when enabled."""
    rule = pb.TagRule(
        name=body.name,
        tag_id=body.tag_id,
        condition=condition(body.condition),
        enabled=body.enabled,
        description=body.description,
    )
    reply = await client.create_tag_rule(metadata(request, caller), pb.CreateTagRuleRequest(rule=rule))
    return _rule(reply.rule)


@router.post("/tag-rules/dry-run", response_model=s.TagRuleDryRunResult, operation_id="dryRunNewTagRule")
async def dry_run_new_rule(
    body: s.TagRuleDryRun,
    request: Request,
    caller: Caller = Depends(require("tag:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """How many customers an unsaved rule would tag now; changes nothing."""
    rule = pb.TagRule(tag_id=body.tag_id, condition=condition(body.condition))
    reply = await client.dry_run_tag_rule(metadata(request, caller), pb.DryRunTagRuleRequest(rule=rule))
    return to_json(reply)


@router.patch(
    "/tag-rules/{rule_id}", response_model=s.TagRuleRead, operation_id="updateTagRule", responses=_ERRORS
)
async def update_tag_rule(
    rule_id: RuleId,
    body: s.TagRuleUpdate,
    request: Request,
    caller: Caller = Depends(require("tag_rule:write")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Change a rule (enable it after a dry run); an enabled rule is re-applied at once."""
    fields = body.model_dump(exclude_unset=True)
    if not fields or any(v is None for v in fields.values()):
        raise HTTPException(422, "send at least one field to change, none of them null")
    rule = pb.TagRule(**{k: v for k, v in fields.items() if k != "condition"})
    if body.condition is not None:
        rule.condition.CopyFrom(condition(body.condition))
    req = pb.UpdateTagRuleRequest(
        rule_id=rule_id, rule=rule, update_mask=field_mask_pb2.FieldMask(paths=sorted(fields))
    )
    reply = await client.update_tag_rule(metadata(request, caller), req)
    return _rule(reply.rule)


@router.delete("/tag-rules/{rule_id}", status_code=204, operation_id="deleteTagRule", responses=_ERRORS)
async def delete_tag_rule(
    rule_id: RuleId,
    request: Request,
    caller: Caller = Depends(require("tag_rule:write")),
    client: TaggingClient = Depends(tagging),
) -> None:
    """Delete a rule; the tags it put on come off."""
    await client.delete_tag_rule(metadata(request, caller), pb.DeleteTagRuleRequest(rule_id=rule_id))


@router.post(
    "/tag-rules/{rule_id}/dry-run", response_model=s.TagRuleDryRunResult, operation_id="dryRunTagRule"
)
async def dry_run_rule(
    rule_id: RuleId,
    request: Request,
    caller: Caller = Depends(require("tag:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """How many customers a saved rule would tag and untag now; changes nothing."""
    reply = await client.dry_run_tag_rule(metadata(request, caller), pb.DryRunTagRuleRequest(rule_id=rule_id))
    return to_json(reply)
