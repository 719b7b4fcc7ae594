"""TaggingService: translates between protobuf messages and the tagging domain; one unit of work
and one audit event per call."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from crm.tagging.v1 import tagging_pb2 as pb
from crm.tagging.v1 import tagging_pb2_grpc
from services.common import field_rules, identity, rpc_permissions, telemetry
from services.common.audit import AuditRecorder
from services.common.db import Database
from services.common.errors import FieldViolation, InvalidArgument
from services.common.identity import Caller
from services.common.page_tokens import PageTokens
from services.tagging import conditions, rules, segments, service
from services.tagging.models import Customer, Rule, Segment, Tag

# What each RPC needs; the server interceptor checks it before the servicer runs.
PERMISSIONS = rpc_permissions.declare(
    pb.DESCRIPTOR.services_by_name["TaggingService"],
    {
        "ListTags": "tag:read",
        "CreateTag": "tag:write",
        "UpdateTag": "tag:write",
        "DeleteTag": "tag:write",
        "MergeTags": "tag:write",
        "AssignTags": "tag:assign",
        "RemoveTags": "tag:assign",
        "ListCustomerTags": "tag:read",
        "ListTagHistory": "tag:read",
        "ListTagRules": "tag:read",
        "CreateTagRule": "tag_rule:write",
        "UpdateTagRule": "tag_rule:write",
        "DeleteTagRule": "tag_rule:write",
        "DryRunTagRule": "tag:read",
        "RunScheduledEvaluation": "tagging:evaluate",
        "PreviewSegment": "segment:read",
        "CreateSegment": "segment:write",
        "GetSegment": "segment:read",
        "ListSegments": "segment:read",
        "UpdateSegment": "segment:write",
        "DeleteSegment": "segment:write",
        # Exporting members needs segment:export as well, which the request's `export` decides.
        "ListSegmentMembers": "segment:read",
        "ReadSegmentEvents": "segment:read",
        "ReadTagChanges": "feed:read",
    },
)


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _tag(tag: Tag, count: int = 0) -> pb.Tag:
    return pb.Tag(
        id=tag.id,
        name=tag.name,
        group=tag.group,
        color=tag.color,
        description=tag.description,
        system=tag.system,
        customer_count=count,
        created_at=_ts(tag.created_at),
        updated_at=_ts(tag.updated_at),
        created_by=tag.created_by,
    )


def _rule(rule: Rule) -> pb.TagRule:
    return pb.TagRule(
        id=rule.id,
        name=rule.name,
        tag_id=rule.tag_id,
        condition=conditions.from_json(rule.condition),
        enabled=rule.enabled,
        description=rule.description,
        created_at=_ts(rule.created_at),
        updated_at=_ts(rule.updated_at),
        last_run_at=_ts(rule.last_run_at),
        created_by=rule.created_by,
    )


def _segment(segment: Segment, count: int) -> pb.Segment:
    return pb.Segment(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        kind=segment.kind,
        condition=conditions.from_json(segment.condition) if segment.condition else None,
        member_count=count,
        created_at=_ts(segment.created_at),
        updated_at=_ts(segment.updated_at),
        refreshed_at=_ts(segment.refreshed_at),
        created_by=segment.created_by,
    )


def member(
    customer: Customer, caller: Caller, since: datetime | None = None, tags: list[str] | None = None
) -> pb.SegmentMember:
    """A customer as a segment member, without the field groups the caller may not see."""
    shown = field_rules.customer(
        {
            "tier": customer.tier,
            "deal_amount_12m": f"{customer.deal_amount_12m_fen / 100:.2f}",
            "last_order_at": customer.last_order_at,
        },
        caller,
    )
    return pb.SegmentMember(
        customer_id=customer.id,
        name=customer.name,
        tier=shown["tier"] or "",
        industry_code=customer.industry_code,
        region_code=customer.region_code,
        status=customer.status,
        stage=customer.stage,
        owner_id=customer.owner_id,
        deal_amount_12m=shown["deal_amount_12m"] or "",
        last_order_at=_ts(shown["last_order_at"]),
        last_follow_up_at=_ts(customer.last_follow_up_at),
        member_since=_ts(since),
        tags=tags or [],
    )


def _selection(request: Any) -> service.Selection:
    which = request.customers.WhichOneof("selection")
    if which == "customer_id":
        return service.Selection(customer_ids=(request.customers.customer_id,))
    if which == "customer_ids":
        return service.Selection(customer_ids=tuple(request.customers.customer_ids.ids))
    if which == "segment_id":
        return service.Selection(segment_id=request.customers.segment_id)
    raise InvalidArgument(
        "say which customers", [FieldViolation("customers", "one of customer_id, customer_ids, segment_id")]
    )


def _target(selection: service.Selection, ids: list[str]) -> str:
    if selection.segment_id:
        return f"segment:{selection.segment_id}"
    return f"customer:{ids[0]}" if len(ids) == 1 else "customers"


class TaggingServicer(tagging_pb2_grpc.TaggingServiceServicer):
    """The gRPC face of tags, rules and segments."""

    def __init__(self, db: Database, audit: AuditRecorder, tokens: PageTokens) -> None:
        self._db = db
        self._audit = audit
        self._tokens = tokens

    def _record(
        self,
        action: str,
        target: str,
        fields: Any = (),
        details: dict[str, Any] | None = None,
        customers: Sequence[str] = (),
    ) -> None:
        """Audit the current caller's action (and the customers a read returned); raising
        AuditUnavailable stops (and rolls back) it."""
        self._audit.record(
            caller=identity.current(),
            action=action,
            target=target,
            fields=fields,
            details=details,
            customers=customers,
        )

    # -- tags ---------------------------------------------------------------------------------

    def ListTags(self, request: pb.ListTagsRequest, context: Any) -> pb.ListTagsResponse:
        with self._db.session_scope(readonly=True) as session:
            tags = service.list_tags(session=session, caller=identity.current(), group=request.group)
            found = service.counts(session, caller=identity.current())
            return pb.ListTagsResponse(tags=[_tag(t, found.get(t.id, 0)) for t in tags])

    def CreateTag(self, request: pb.CreateTagRequest, context: Any) -> pb.CreateTagResponse:
        data = {
            "name": request.tag.name,
            "group": request.tag.group,
            "color": request.tag.color,
            "description": request.tag.description,
            "system": request.tag.system,
        }
        with self._db.session_scope() as session:
            tag = service.create_tag(session=session, caller=identity.current(), data=data)
            self._record("tag.create", f"tag:{tag.id}", details={"name": tag.name, "group": tag.group})
            return pb.CreateTagResponse(tag=_tag(tag))

    def UpdateTag(self, request: pb.UpdateTagRequest, context: Any) -> pb.UpdateTagResponse:
        data = {
            "name": request.tag.name,
            "group": request.tag.group,
            "color": request.tag.color,
            "description": request.tag.description,
            "system": request.tag.system,
        }
        paths = list(request.update_mask.paths)
        with self._db.session_scope() as session:
            tag = service.update_tag(
                session=session, caller=identity.current(), tag_id=request.tag_id, data=data, paths=paths
            )
            self._record("tag.update", f"tag:{tag.id}", paths)
            return pb.UpdateTagResponse(
                tag=_tag(
                    tag, service.counts(session, caller=identity.current(), tag_ids=[tag.id]).get(tag.id, 0)
                )
            )

    def DeleteTag(self, request: pb.DeleteTagRequest, context: Any) -> pb.DeleteTagResponse:
        with self._db.session_scope() as session:
            removed = service.delete_tag(session=session, caller=identity.current(), tag_id=request.tag_id)
            self._record("tag.delete", f"tag:{request.tag_id}", details={"removed_assignments": removed})
        return pb.DeleteTagResponse(removed_assignments=removed)

    def MergeTags(self, request: pb.MergeTagsRequest, context: Any) -> pb.MergeTagsResponse:
        with self._db.session_scope() as session:
            tag, moved = service.merge_tags(
                session=session,
                caller=identity.current(),
                source_ids=list(request.source_tag_ids),
                target_id=request.target_tag_id,
            )
            self._record(
                "tag.merge",
                f"tag:{tag.id}",
                details={"sources": list(request.source_tag_ids)[:50], "moved": moved},
            )
            count = service.counts(session, caller=identity.current(), tag_ids=[tag.id]).get(tag.id, 0)
            return pb.MergeTagsResponse(tag=_tag(tag, count), moved_assignments=moved)

    # -- assignments --------------------------------------------------------------------------

    def AssignTags(self, request: pb.AssignTagsRequest, context: Any) -> pb.AssignTagsResponse:
        selection = _selection(request)
        with self._db.session_scope() as session:
            changed, ids = service.assign(
                session=session, caller=identity.current(), selection=selection, tag_ids=list(request.tag_ids)
            )
            self._record(
                "customer.tag",
                _target(selection, ids),
                ["tags"],
                details={
                    "tags": list(request.tag_ids),
                    "customers": len(ids),
                    "changed": changed,
                    "ids": ids[:100],
                },
            )
        return pb.AssignTagsResponse(changed=changed, customers=len(ids))

    def RemoveTags(self, request: pb.RemoveTagsRequest, context: Any) -> pb.RemoveTagsResponse:
        selection = _selection(request)
        with self._db.session_scope() as session:
            changed, ids = service.remove(
                session=session, caller=identity.current(), selection=selection, tag_ids=list(request.tag_ids)
            )
            self._record(
                "customer.untag",
                _target(selection, ids),
                ["tags"],
                details={
                    "tags": list(request.tag_ids),
                    "customers": len(ids),
                    "changed": changed,
                    "ids": ids[:100],
                },
            )
        return pb.RemoveTagsResponse(changed=changed, customers=len(ids))

    def ListCustomerTags(
        self, request: pb.ListCustomerTagsRequest, context: Any
    ) -> pb.ListCustomerTagsResponse:
        caller = identity.current()
        with self._db.session_scope(readonly=True) as session:
            found = service.customer_tags(
                session=session, caller=caller, customer_ids=list(request.customer_ids)
            )
            reply = pb.ListCustomerTagsResponse(
                customers=[
                    pb.CustomerTags(
                        customer_id=cid,
                        tags=[
                            pb.TagAssignment(
                                tag_id=t.id,
                                name=t.name,
                                group=t.group,
                                color=t.color,
                                source=a.source,
                                assigned_by=a.assigned_by,
                                assigned_at=_ts(a.assigned_at),
                            )
                            for a, t in pairs
                        ],
                    )
                    for cid, pairs in found.items()
                ]
            )
        target = f"customer:{next(iter(found))}" if len(found) == 1 else "customers"
        self._record("customer.tags.read", target, customers=list(found))
        return reply

    def ListTagHistory(self, request: pb.ListTagHistoryRequest, context: Any) -> pb.ListTagHistoryResponse:
        size = request.page.page_size or 50
        if not 1 <= size <= 200:
            raise InvalidArgument("invalid page", [FieldViolation("page.page_size", "between 1 and 200")])
        caller, query = identity.current(), ["tag-history", request.customer_id]
        token = self._tokens.open(request.page.page_token, caller=caller, query=query)
        if token and not (token.isascii() and token.isdigit() and len(token) < 19):
            raise InvalidArgument(
                "invalid page", [FieldViolation("page.page_token", "not a token this API issued")]
            )
        with self._db.session_scope(readonly=True) as session:
            rows = service.history(
                session=session,
                caller=identity.current(),
                customer_id=request.customer_id,
                before_id=int(token) if token else None,
                limit=size + 1,
            )
            more = len(rows) > size
            rows = rows[:size]
            reply = pb.ListTagHistoryResponse(
                entries=[
                    pb.TagHistoryEntry(
                        id=r.id,
                        customer_id=r.customer_id,
                        tag_id=r.tag_id,
                        tag_name=r.tag_name,
                        action=r.action,
                        actor=r.actor,
                        source=r.source,
                        at=_ts(r.at),
                    )
                    for r in rows
                ],
                page={
                    "next_page_token": self._tokens.seal(
                        str(rows[-1].id) if more and rows else "", caller=caller, query=query
                    )
                },
            )
        self._record("customer.tags.history", f"customer:{request.customer_id}", details={"count": len(rows)})
        return reply

    # -- rules --------------------------------------------------------------------------------

    def ListTagRules(self, request: pb.ListTagRulesRequest, context: Any) -> pb.ListTagRulesResponse:
        with self._db.session_scope(readonly=True) as session:
            return pb.ListTagRulesResponse(
                rules=[_rule(r) for r in rules.list_rules(session=session, caller=identity.current())]
            )

    @staticmethod
    def _rule_data(rule: pb.TagRule) -> dict[str, Any]:
        return {
            "name": rule.name,
            "tag_id": rule.tag_id,
            "condition": rule.condition,
            "enabled": rule.enabled,
            "description": rule.description,
        }

    def CreateTagRule(self, request: pb.CreateTagRuleRequest, context: Any) -> pb.CreateTagRuleResponse:
        with self._db.session_scope() as session:
            rule = rules.create_rule(
                session=session, caller=identity.current(), data=self._rule_data(request.rule)
            )
            self._record(
                "tag_rule.create",
                f"tag_rule:{rule.id}",
                details={"tag": rule.tag_id, "enabled": rule.enabled},
            )
            return pb.CreateTagRuleResponse(rule=_rule(rule))

    def UpdateTagRule(self, request: pb.UpdateTagRuleRequest, context: Any) -> pb.UpdateTagRuleResponse:
        paths = list(request.update_mask.paths)
        with self._db.session_scope() as session:
            rule = rules.update_rule(
                session=session,
                caller=identity.current(),
                rule_id=request.rule_id,
                data=self._rule_data(request.rule),
                paths=paths,
            )
            self._record("tag_rule.update", f"tag_rule:{rule.id}", paths)
            return pb.UpdateTagRuleResponse(rule=_rule(rule))

    def DeleteTagRule(self, request: pb.DeleteTagRuleRequest, context: Any) -> pb.DeleteTagRuleResponse:
        with self._db.session_scope() as session:
            rules.delete_rule(session=session, caller=identity.current(), rule_id=request.rule_id)
            self._record("tag_rule.delete", f"tag_rule:{request.rule_id}")
        return pb.DeleteTagRuleResponse()

    def DryRunTagRule(self, request: pb.DryRunTagRuleRequest, context: Any) -> pb.DryRunTagRuleResponse:
        with self._db.session_scope(readonly=True) as session:
            matching, assign, remove, sample = rules.dry_run(
                session=session,
                caller=identity.current(),
                rule_id=request.rule_id,
                data=None if request.rule_id else self._rule_data(request.rule),
            )
        self._record(
            "tag_rule.dry_run",
            f"tag_rule:{request.rule_id or 'unsaved'}",
            details={"matching": matching},
            customers=sample,
        )
        return pb.DryRunTagRuleResponse(
            matching=matching, would_assign=assign, would_remove=remove, sample_customer_ids=sample
        )

    def RunScheduledEvaluation(
        self, request: pb.RunScheduledEvaluationRequest, context: Any
    ) -> pb.RunScheduledEvaluationResponse:
        with self._db.session_scope() as session:
            n_rules, segs, tags, moved = segments.evaluate_all(session, at=service.now())
            self._record(
                "tagging.evaluate",
                "rules,segments",
                details={
                    "rules": n_rules,
                    "segments": segs,
                    "tag_changes": tags,
                    "membership_changes": moved,
                },
            )
        return pb.RunScheduledEvaluationResponse(
            rules=n_rules, segments=segs, tag_changes=tags, membership_changes=moved
        )

    # -- segments -----------------------------------------------------------------------------

    def PreviewSegment(self, request: pb.PreviewSegmentRequest, context: Any) -> pb.PreviewSegmentResponse:
        caller = identity.current()
        with self._db.session_scope(readonly=True) as session:
            count, rows = segments.preview(
                session=session, caller=caller, cond=request.condition, sample=request.sample_size
            )
            names = service.tag_names(session, [r.id for r in rows])
            sample = [member(r, caller, tags=names[r.id]) for r in rows]
        self._record("segment.preview", "customers", details={"count": count}, customers=[r.id for r in rows])
        return pb.PreviewSegmentResponse(count=count, sample=sample)

    @staticmethod
    def _segment_data(segment: pb.Segment) -> dict[str, Any]:
        return {
            "name": segment.name,
            "description": segment.description,
            "kind": segment.kind,
            "condition": segment.condition if segment.HasField("condition") else None,
            "customer_ids": list(segment.customer_ids),
        }

    def _segment_reply(self, session: Any, segment: Segment) -> pb.Segment:
        caller = identity.current()
        return _segment(
            segment,
            segments.member_counts(session, caller=caller, segment_ids=[segment.id]).get(segment.id, 0),
        )

    def CreateSegment(self, request: pb.CreateSegmentRequest, context: Any) -> pb.CreateSegmentResponse:
        with self._db.session_scope() as session:
            segment = segments.create(
                session=session, caller=identity.current(), data=self._segment_data(request.segment)
            )
            self._record("segment.create", f"segment:{segment.id}", details={"kind": segment.kind})
            return pb.CreateSegmentResponse(segment=self._segment_reply(session, segment))

    def GetSegment(self, request: pb.GetSegmentRequest, context: Any) -> pb.GetSegmentResponse:
        with self._db.session_scope(readonly=True) as session:
            segment = segments.get(session=session, caller=identity.current(), segment_id=request.segment_id)
            return pb.GetSegmentResponse(segment=self._segment_reply(session, segment))

    def ListSegments(self, request: pb.ListSegmentsRequest, context: Any) -> pb.ListSegmentsResponse:
        size = request.page.page_size or 50
        if not 1 <= size <= 200:
            raise InvalidArgument("invalid page", [FieldViolation("page.page_size", "between 1 and 200")])
        caller, query = identity.current(), ["segments"]
        with self._db.session_scope(readonly=True) as session:
            rows, token = segments.list_segments(
                session=session,
                caller=caller,
                size=size,
                token=self._tokens.open(request.page.page_token, caller=caller, query=query),
            )
            found = segments.member_counts(session, caller=caller, segment_ids=[s.id for s in rows])
            return pb.ListSegmentsResponse(
                segments=[_segment(s, found.get(s.id, 0)) for s in rows],
                page={"next_page_token": self._tokens.seal(token, caller=caller, query=query)},
            )

    def UpdateSegment(self, request: pb.UpdateSegmentRequest, context: Any) -> pb.UpdateSegmentResponse:
        paths = list(request.update_mask.paths)
        with self._db.session_scope() as session:
            segment = segments.update(
                session=session,
                caller=identity.current(),
                segment_id=request.segment_id,
                data=self._segment_data(request.segment),
                paths=paths,
            )
            self._record("segment.update", f"segment:{segment.id}", paths)
            return pb.UpdateSegmentResponse(segment=self._segment_reply(session, segment))

    def DeleteSegment(self, request: pb.DeleteSegmentRequest, context: Any) -> pb.DeleteSegmentResponse:
        with self._db.session_scope() as session:
            segments.delete_segment(session=session, caller=identity.current(), segment_id=request.segment_id)
            self._record("segment.delete", f"segment:{request.segment_id}")
        return pb.DeleteSegmentResponse()

    def ListSegmentMembers(
        self, request: pb.ListSegmentMembersRequest, context: Any
    ) -> pb.ListSegmentMembersResponse:
        caller = identity.current()
        query = ["segment-members", request.segment_id, request.export, request.purpose]
        telemetry.set_attributes(segment_id=request.segment_id)
        with self._db.session_scope(readonly=True) as session:
            rows, token, total = segments.members(
                session=session,
                caller=caller,
                segment_id=request.segment_id,
                size=request.page.page_size,
                token=self._tokens.open(request.page.page_token, caller=caller, query=query),
                export=request.export,
                purpose=request.purpose,
            )
            names = service.tag_names(session, [c.id for c, _ in rows])
            listed = [member(c, caller, since, names[c.id]) for c, since in rows]
        action = "segment.export" if request.export else "segment.members.read"
        hidden = sorted(field_rules.unseen(caller) & {field_rules.FINANCIAL, field_rules.PURCHASE})
        details: dict[str, Any] = {"hidden": hidden}
        if request.export:
            details["purpose"] = request.purpose
        self._record(
            action, f"segment:{request.segment_id}", details=details, customers=[c.id for c, _ in rows]
        )
        return pb.ListSegmentMembersResponse(
            members=listed,
            page={"next_page_token": self._tokens.seal(token, caller=caller, query=query)},
            total=total,
        )

    def ReadSegmentEvents(
        self, request: pb.ReadSegmentEventsRequest, context: Any
    ) -> pb.ReadSegmentEventsResponse:
        with self._db.session_scope(readonly=True) as session:
            rows, head = segments.read_events(
                session=session,
                caller=identity.current(),
                after_position=request.after_position,
                limit=request.limit or 500,
                segment_id=request.segment_id,
            )
            events = [
                pb.SegmentEvent(
                    position=r.position,
                    segment_id=r.segment_id,
                    customer_id=r.customer_id,
                    kind=r.kind,
                    at=_ts(r.at),
                )
                for r in rows
            ]
        if events:
            self._record(
                "segment.events.read",
                f"segment:{request.segment_id}" if request.segment_id else "segments",
                details={"from": events[0].position, "to": events[-1].position, "count": len(events)},
            )
        return pb.ReadSegmentEventsResponse(events=events, head_position=head)

    # -- the published feed -------------------------------------------------------------------

    def ReadTagChanges(self, request: pb.ReadTagChangesRequest, context: Any) -> pb.ReadTagChangesResponse:
        limit = request.limit or 500
        if not 1 <= limit <= 1000 or request.after_position < 0:
            raise InvalidArgument(
                "invalid feed request", [FieldViolation("limit", "between 1 and 1000; after_position >= 0")]
            )
        with self._db.session_scope(readonly=True) as session:
            rows, head = service.read_feed(session, after_position=request.after_position, limit=limit)
            changes = [
                pb.TagChange(
                    position=r.position,
                    customer_id=r.customer_id,
                    tags=list(r.tags),
                    at=_ts(r.at),
                    traceparent=r.traceparent or "",
                )
                for r in rows
            ]
        if changes:
            self._record(
                "tag_feed.read",
                "customers",
                details={"from": changes[0].position, "to": changes[-1].position, "count": len(changes)},
            )
        return pb.ReadTagChangesResponse(changes=changes, head_position=head)
