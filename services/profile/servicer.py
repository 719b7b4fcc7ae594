"""ProfileService: translates between protobuf messages and the domain functions."""

from collections.abc import Sequence
from datetime import UTC
from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from crm.common.v1 import common_pb2
from crm.profile.v1 import profile_pb2 as pb
from crm.profile.v1 import profile_pb2_grpc
from services.common import field_rules, identity, rpc_permissions, telemetry
from services.common.audit import AuditRecorder
from services.common.db import Database
from services.common.errors import FieldViolation, InvalidArgument
from services.common.page_tokens import PageTokens
from services.profile import custom_fields, journal, privacy, related, service
from services.profile.keyring import Keyring
from services.profile.models import ERASED
from services.profile.outbox import Outbox
from services.profile.settings import ProfileSettings

M = TypeVar("M", bound=Message)


def to_dict(message: Message) -> dict[str, Any]:
    """A message's set fields as a plain dict with proto field names."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def to_message(cls: type[M], data: dict[str, Any]) -> M:
    """A message of type cls built from a dict with proto field names (None skipped)."""
    return json_format.ParseDict(
        {k: v for k, v in data.items() if v is not None}, cls(), ignore_unknown_fields=True
    )


def _customer(data: dict[str, Any]) -> pb.Customer:
    """A customer message holding only what the current caller may see."""
    data = field_rules.customer(data, identity.current())
    data = {**data, "contacts": [{k: v for k, v in c.items() if v is not None} for c in data["contacts"]]}
    return to_message(pb.Customer, data)


# What each RPC needs; the server interceptor checks it before the servicer runs.
PERMISSIONS = rpc_permissions.declare(
    pb.DESCRIPTOR.services_by_name["ProfileService"],
    {
        "CreateCustomer": "customer:write",
        "GetCustomer": "customer:read",
        "UpdateCustomer": "customer:write",
        "DeleteCustomer": "customer:delete",
        "RestoreCustomer": "customer:delete",
        "ListCustomers": "customer:read",
        "ListCustomerHistory": "customer:history",
        "GetCustomerView": "customer:read",
        "CreateContact": "customer:write",
        "ListContacts": "related:read",
        "CreateInteraction": "related:write",
        "ListInteractions": "related:read",
        "CreateOrder": "related:write",
        "ListOrders": "related:read",
        "CreateContract": "related:write",
        "ListContracts": "related:read",
        "CreateServiceRecord": "related:write",
        "ListServiceRecords": "related:read",
        "ListCustomFields": "customer:read",
        "CreateCustomField": "admin:custom-fields",
        "ReadChanges": "feed:read",
        "GiveConsent": "consent:write",
        "WithdrawConsent": "consent:write",
        "ListConsents": "consent:read",
        "ExportPersonalData": "privacy:export",
        "ErasePersonalData": "privacy:erase",
    },
)


def _page_size(request: Any) -> int:
    return service.page_size(request.page.page_size)


class ProfileServicer(profile_pb2_grpc.ProfileServiceServicer):
    """The gRPC face of the customer archive; one unit of work per call."""

    def __init__(
        self,
        db: Database,
        settings: ProfileSettings,
        audit: AuditRecorder,
        keyring: Keyring,
        outbox: Outbox,
        tokens: PageTokens,
    ) -> None:
        self._db = db
        self._settings = settings
        self._audit = audit
        self._keyring = keyring
        self._outbox = outbox
        self._tokens = tokens

    def _record(
        self,
        action: str,
        target: str,
        fields: Any = (),
        details: dict[str, Any] | None = None,
        customers: Sequence[str] = (),
    ) -> None:
        """Audit the current caller's read (and the customers it returned) before answering;
        AuditUnavailable stops it."""
        self._audit.record(
            caller=identity.current(),
            action=action,
            target=target,
            fields=fields,
            details=details,
            customers=customers,
        )

    def _changed(
        self,
        session: Session,
        action: str,
        target: str,
        fields: Any = (),
        details: dict[str, Any] | None = None,
    ) -> None:
        """Audit the current caller's change in its own unit of work (outbox.py)."""
        self._outbox.add(
            session, caller=identity.current(), action=action, target=target, fields=fields, details=details
        )

    def CreateCustomer(self, request: pb.CreateCustomerRequest, context: Any) -> pb.CreateCustomerResponse:
        data = to_dict(request.customer)
        for key in (
            "id",
            "tier",
            "deal_amount_12m",
            "version",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
            "deleted_at",
        ):
            data.pop(key, None)
        for contact in data.get("contacts", []):
            contact.pop("id", None)
            contact.pop("created_at", None)
        with self._db.session_scope() as session:
            customer = service.create(
                session=session, caller=identity.current(), data=data, tz=self._settings.tz
            )
            result = service.customer_to_dict(customer)
            self._changed(session, "customer.create", f"customer:{customer.id}", sorted(data))
        telemetry.set_attributes(customer_id=result["id"])
        return pb.CreateCustomerResponse(customer=_customer(result))

    def GetCustomer(self, request: pb.GetCustomerRequest, context: Any) -> pb.GetCustomerResponse:
        telemetry.set_attributes(customer_id=request.customer_id)
        with self._db.session_scope(readonly=True) as session:
            if request.HasField("as_of"):
                result = service.get_as_of(
                    session=session,
                    caller=identity.current(),
                    customer_id=request.customer_id,
                    at=request.as_of.ToDatetime(tzinfo=UTC),
                )
            else:
                result = service.customer_to_dict(
                    service.get(
                        session=session,
                        caller=identity.current(),
                        customer_id=request.customer_id,
                        include_deleted=request.include_deleted,
                    )
                )
        as_of = {"as_of": request.as_of.ToJsonString()} if request.HasField("as_of") else None
        self._record("customer.read", f"customer:{request.customer_id}", details=as_of)
        return pb.GetCustomerResponse(customer=_customer(result))

    def UpdateCustomer(self, request: pb.UpdateCustomerRequest, context: Any) -> pb.UpdateCustomerResponse:
        telemetry.set_attributes(customer_id=request.customer_id)
        with self._db.session_scope() as session:
            customer = service.update(
                session=session,
                caller=identity.current(),
                customer_id=request.customer_id,
                expected_version=request.expected_version,
                patch=to_dict(request.customer),
                paths=list(request.update_mask.paths),
            )
            result = service.customer_to_dict(customer)
            self._changed(
                session, "customer.update", f"customer:{customer.id}", list(request.update_mask.paths)
            )
        return pb.UpdateCustomerResponse(customer=_customer(result))

    def DeleteCustomer(self, request: pb.DeleteCustomerRequest, context: Any) -> pb.DeleteCustomerResponse:
        telemetry.set_attributes(customer_id=request.customer_id)
        with self._db.session_scope() as session:
            customer = service.delete(
                session=session,
                caller=identity.current(),
                customer_id=request.customer_id,
                expected_version=request.expected_version,
            )
            result = service.customer_to_dict(customer)
            self._changed(session, "customer.delete", f"customer:{customer.id}")
        return pb.DeleteCustomerResponse(customer=_customer(result))

    def RestoreCustomer(self, request: pb.RestoreCustomerRequest, context: Any) -> pb.RestoreCustomerResponse:
        telemetry.set_attributes(customer_id=request.customer_id)
        with self._db.session_scope() as session:
            customer = service.restore(
                session=session, caller=identity.current(), customer_id=request.customer_id
            )
            result = service.customer_to_dict(customer)
            self._changed(session, "customer.restore", f"customer:{customer.id}")
        return pb.RestoreCustomerResponse(customer=_customer(result))

    def ListCustomers(self, request: pb.ListCustomersRequest, context: Any) -> pb.ListCustomersResponse:
        size, caller = _page_size(request), identity.current()
        query = ["customers", to_dict(request.filter), request.order_by]
        token = self._tokens.open(request.page.page_token, caller=caller, query=query)
        filters: dict[str, Any] = to_dict(request.filter)
        for name in ("created_from", "created_to", "updated_from", "updated_to"):
            if request.filter.HasField(name):
                filters[name] = getattr(request.filter, name).ToDatetime(tzinfo=UTC)
        with self._db.session_scope(readonly=True) as session:
            rows, next_token = service.list_customers(
                session=session,
                caller=identity.current(),
                filters=filters,
                order_by=request.order_by,
                size=size,
                token=token,
            )
            results = [service.customer_to_dict(r) for r in rows]
        self._record(
            "customer.list",
            "customers",
            details={"filters": sorted(filters)},
            customers=[r["id"] for r in results],
        )
        return pb.ListCustomersResponse(
            customers=[_customer(r) for r in results],
            page=common_pb2.PageInfo(
                next_page_token=self._tokens.seal(next_token, caller=caller, query=query)
            ),
        )

    def ListCustomerHistory(
        self, request: pb.ListCustomerHistoryRequest, context: Any
    ) -> pb.ListCustomerHistoryResponse:
        telemetry.set_attributes(customer_id=request.customer_id)
        size, caller = _page_size(request), identity.current()
        query = ["history", request.customer_id]
        token = self._tokens.open(request.page.page_token, caller=caller, query=query)
        before = int(service.decode_token(token, 1)[0]) if token else None
        with self._db.session_scope(readonly=True) as session:
            service.get(
                session=session,
                caller=identity.current(),
                customer_id=request.customer_id,
                include_deleted=True,
            )
            rows = journal.history(
                session, customer_id=request.customer_id, before_position=before, limit=size + 1
            )
            revisions = [_revision(r, identity.current()) for r in rows[:size]]
        self._record("customer.history", f"customer:{request.customer_id}")
        next_token = service.encode_token([rows[size - 1].position]) if len(rows) > size else ""
        return pb.ListCustomerHistoryResponse(
            revisions=revisions,
            page=common_pb2.PageInfo(
                next_page_token=self._tokens.seal(next_token, caller=caller, query=query)
            ),
        )

    def GetCustomerView(self, request: pb.GetCustomerViewRequest, context: Any) -> pb.GetCustomerViewResponse:
        telemetry.set_attributes(customer_id=request.customer_id)
        with self._db.session_scope(readonly=True) as session:
            result = related.view(session=session, caller=identity.current(), customer_id=request.customer_id)
        self._record("customer.view", f"customer:{request.customer_id}")
        customer = result.pop("customer")
        view = to_message(pb.CustomerView, field_rules.view(result, identity.current()))
        view.customer.CopyFrom(_customer(customer))
        return pb.GetCustomerViewResponse(view=view)

    def _create_related(self, kind: str, customer_id: str, message: Message, **extra: Any) -> dict[str, Any]:
        telemetry.set_attributes(customer_id=customer_id)
        data = to_dict(message)
        for key in ("id", "customer_id", "created_at"):
            data.pop(key, None)
        create, to_api = _CREATORS[kind]
        with self._db.session_scope() as session:
            row = create(
                session=session, caller=identity.current(), customer_id=customer_id, data=data, **extra
            )
            self._changed(session, f"{_SINGULAR[kind]}.create", f"customer:{customer_id}", sorted(data))
            return to_api(row)

    def _list_related(
        self, kind: str, request: pb.ListRelatedRequest
    ) -> tuple[list[dict[str, Any]], common_pb2.PageInfo]:
        telemetry.set_attributes(customer_id=request.customer_id)
        size, caller = _page_size(request), identity.current()
        query = [kind, request.customer_id]
        token = self._tokens.open(request.page.page_token, caller=caller, query=query)
        model, column = related.RELATED[kind]
        to_api = _CREATORS[kind][1]
        with self._db.session_scope(readonly=True) as session:
            rows, next_token = related.list_related(
                session=session,
                caller=identity.current(),
                customer_id=request.customer_id,
                model=model,
                time_column=column,
                size=size,
                token=token,
            )
            listed = [to_api(r) for r in rows]
        self._record(
            f"{_SINGULAR[kind]}.list", f"customer:{request.customer_id}", details={"count": len(listed)}
        )
        return listed, common_pb2.PageInfo(
            next_page_token=self._tokens.seal(next_token, caller=caller, query=query)
        )

    def CreateContact(self, request: pb.CreateContactRequest, context: Any) -> pb.CreateContactResponse:
        row = self._create_related("contacts", request.customer_id, request.contact)
        return pb.CreateContactResponse(
            contact=to_message(pb.Contact, field_rules.contact(row, identity.current()))
        )

    def ListContacts(self, request: pb.ListRelatedRequest, context: Any) -> pb.ListContactsResponse:
        rows, page = self._list_related("contacts", request)
        caller = identity.current()
        return pb.ListContactsResponse(
            contacts=[to_message(pb.Contact, field_rules.contact(r, caller)) for r in rows], page=page
        )

    def CreateInteraction(
        self, request: pb.CreateInteractionRequest, context: Any
    ) -> pb.CreateInteractionResponse:
        row = self._create_related("interactions", request.customer_id, request.interaction)
        return pb.CreateInteractionResponse(interaction=to_message(pb.Interaction, row))

    def ListInteractions(self, request: pb.ListRelatedRequest, context: Any) -> pb.ListInteractionsResponse:
        rows, page = self._list_related("interactions", request)
        return pb.ListInteractionsResponse(
            interactions=[to_message(pb.Interaction, r) for r in rows], page=page
        )

    def CreateOrder(self, request: pb.CreateOrderRequest, context: Any) -> pb.CreateOrderResponse:
        field_rules.require_group(identity.current(), field_rules.PURCHASE)
        row = self._create_related("orders", request.customer_id, request.order, settings=self._settings)
        return pb.CreateOrderResponse(order=to_message(pb.Order, row))

    def ListOrders(self, request: pb.ListRelatedRequest, context: Any) -> pb.ListOrdersResponse:
        field_rules.require_group(identity.current(), field_rules.PURCHASE)
        rows, page = self._list_related("orders", request)
        return pb.ListOrdersResponse(orders=[to_message(pb.Order, r) for r in rows], page=page)

    def CreateContract(self, request: pb.CreateContractRequest, context: Any) -> pb.CreateContractResponse:
        field_rules.require_group(identity.current(), field_rules.FINANCIAL)
        row = self._create_related("contracts", request.customer_id, request.contract)
        return pb.CreateContractResponse(contract=to_message(pb.Contract, row))

    def ListContracts(self, request: pb.ListRelatedRequest, context: Any) -> pb.ListContractsResponse:
        field_rules.require_group(identity.current(), field_rules.FINANCIAL)
        rows, page = self._list_related("contracts", request)
        return pb.ListContractsResponse(contracts=[to_message(pb.Contract, r) for r in rows], page=page)

    def CreateServiceRecord(
        self, request: pb.CreateServiceRecordRequest, context: Any
    ) -> pb.CreateServiceRecordResponse:
        row = self._create_related("service_records", request.customer_id, request.service_record)
        return pb.CreateServiceRecordResponse(service_record=to_message(pb.ServiceRecord, row))

    def ListServiceRecords(
        self, request: pb.ListRelatedRequest, context: Any
    ) -> pb.ListServiceRecordsResponse:
        rows, page = self._list_related("service_records", request)
        return pb.ListServiceRecordsResponse(
            service_records=[to_message(pb.ServiceRecord, r) for r in rows], page=page
        )

    def ListCustomFields(
        self, request: pb.ListCustomFieldsRequest, context: Any
    ) -> pb.ListCustomFieldsResponse:
        with self._db.session_scope(readonly=True) as session:
            rows = [custom_fields.to_dict(r) for r in custom_fields.list_all(session=session)]
        return pb.ListCustomFieldsResponse(custom_fields=[to_message(pb.CustomField, r) for r in rows])

    def CreateCustomField(
        self, request: pb.CreateCustomFieldRequest, context: Any
    ) -> pb.CreateCustomFieldResponse:
        data = to_dict(request.custom_field)
        data.pop("created_at", None)
        with self._db.session_scope() as session:
            row = custom_fields.to_dict(
                custom_fields.create(session=session, caller=identity.current(), data=data)
            )
            self._changed(session, "custom_field.create", f"custom_field:{row['key']}", sorted(data))
        return pb.CreateCustomFieldResponse(custom_field=to_message(pb.CustomField, row))

    def ReadChanges(self, request: pb.ReadChangesRequest, context: Any) -> pb.ReadChangesResponse:
        limit = request.limit or 500
        if not 1 <= limit <= 1000 or request.after_position < 0:
            raise InvalidArgument(
                "invalid feed request",
                [FieldViolation("limit", "must be between 1 and 1000; after_position >= 0")],
            )
        with self._db.session_scope(readonly=True) as session:
            rows, head = journal.read_feed(session, after_position=request.after_position, limit=limit)
            # A revision whose key is gone (an archive backup restored after an erasure) travels
            # as the erasure it is, so followers drop the customer instead of stalling the feed.
            keys = self._keyring.prefetch(
                {r.customer_id for r in rows if r.action != ERASED}, missing_ok=True
            )
            changes = [
                pb.Change(
                    position=r.position,
                    customer_id=r.customer_id,
                    action=r.action if r.customer_id in keys else ERASED,
                    version=r.version,
                    at=_timestamp(r.at),
                    customer=_customer(_for_feed(r.snapshot)) if r.customer_id in keys else None,
                    traceparent=r.traceparent or "",
                )
                for r in rows
            ]
        if changes:
            self._record(
                "feed.read",
                "customers",
                details={"from": changes[0].position, "to": changes[-1].position, "count": len(changes)},
            )
        return pb.ReadChangesResponse(changes=changes, head_position=head)

    # -- privacy rights ---------------------------------------------------------------------

    def GiveConsent(self, request: pb.GiveConsentRequest, context: Any) -> pb.GiveConsentResponse:
        data = to_dict(request.consent)
        for key in ("id", "customer_id", "recorded_by", "withdrawn_at", "withdrawn_by", "active"):
            data.pop(key, None)
        with self._db.session_scope() as session:
            row = privacy.give_consent(
                session=session, caller=identity.current(), customer_id=request.customer_id, data=data
            )
            result = privacy.consent_to_dict(row)
            self._changed(
                session, "consent.give", f"customer:{request.customer_id}", ["purpose", "channel", "evidence"]
            )
        return pb.GiveConsentResponse(consent=to_message(pb.Consent, result))

    def WithdrawConsent(self, request: pb.WithdrawConsentRequest, context: Any) -> pb.WithdrawConsentResponse:
        with self._db.session_scope() as session:
            row = privacy.withdraw_consent(
                session=session,
                caller=identity.current(),
                customer_id=request.customer_id,
                consent_id=request.consent_id,
            )
            result = privacy.consent_to_dict(row)
            self._changed(
                session, "consent.withdraw", f"customer:{request.customer_id}", details={"consent": row.id}
            )
        return pb.WithdrawConsentResponse(consent=to_message(pb.Consent, result))

    def ListConsents(self, request: pb.ListConsentsRequest, context: Any) -> pb.ListConsentsResponse:
        with self._db.session_scope(readonly=True) as session:
            rows = privacy.list_consents(
                session=session, caller=identity.current(), customer_id=request.customer_id
            )
            results = [privacy.consent_to_dict(r) for r in rows]
        self._record("consent.list", f"customer:{request.customer_id}", details={"count": len(results)})
        return pb.ListConsentsResponse(consents=[to_message(pb.Consent, r) for r in results])

    def ExportPersonalData(
        self, request: pb.ExportPersonalDataRequest, context: Any
    ) -> pb.ExportPersonalDataResponse:
        telemetry.set_attributes(customer_id=request.customer_id)
        with self._db.session_scope(readonly=True) as session:
            data = privacy.export(session=session, caller=identity.current(), customer_id=request.customer_id)
            # Recorded before the data leaves: an export nobody can account for must not happen.
            self._record("privacy.export", f"customer:{request.customer_id}")
        message = pb.ExportPersonalDataResponse()
        message.data.update(data)
        return message

    def ErasePersonalData(
        self, request: pb.ErasePersonalDataRequest, context: Any
    ) -> pb.ErasePersonalDataResponse:
        telemetry.set_attributes(customer_id=request.customer_id)
        removed = privacy.erase_and_shred(
            self._db,
            self._keyring,
            self._record,
            caller=identity.current(),
            customer_id=request.customer_id,
            reason=request.reason,
        )
        return pb.ErasePersonalDataResponse(customer_id=request.customer_id, **removed)


def _for_feed(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What followers of the feed receive: no address, birthday, ID number or WeChat ID (none needs them)."""
    data = {k: v for k, v in snapshot.items() if k not in ("address", "birthday", "id_number")}
    data["contacts"] = [{k: v for k, v in c.items() if k != "wechat"} for c in snapshot.get("contacts") or []]
    return data


def _timestamp(value: Any) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _revision(row: Any, caller: identity.Caller) -> pb.Revision:
    def value(v: Any) -> struct_pb2.Value:
        return json_format.ParseDict(v, struct_pb2.Value())

    return pb.Revision(
        revision=row.position,
        customer_id=row.customer_id,
        action=row.action,
        actor=row.actor,
        at=_timestamp(row.at),
        version=row.version,
        trace_id=(row.traceparent or "")[3:35],
        changes=[
            common_pb2.FieldChange(field=c["field"], old_value=value(c["old"]), new_value=value(c["new"]))
            for c in field_rules.changes(row.changes, caller)
        ],
    )


_SINGULAR = {
    "contacts": "contact",
    "interactions": "interaction",
    "orders": "order",
    "contracts": "contract",
    "service_records": "service_record",
}

_CREATORS = {
    "contacts": (related.create_contact, service.contact_to_dict),
    "interactions": (related.create_interaction, related.interaction_to_dict),
    "orders": (related.create_order, related.order_to_dict),
    "contracts": (related.create_contract, related.contract_to_dict),
    "service_records": (related.create_service_record, related.service_record_to_dict),
}
