import datetime

from crm.common.v1 import common_pb2 as _common_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Contact(_message.Message):
    __slots__ = ("id", "name", "title", "phones", "emails", "wechat", "is_primary", "departed", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    WECHAT_FIELD_NUMBER: _ClassVar[int]
    IS_PRIMARY_FIELD_NUMBER: _ClassVar[int]
    DEPARTED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    title: str
    phones: _containers.RepeatedScalarFieldContainer[str]
    emails: _containers.RepeatedScalarFieldContainer[str]
    wechat: str
    is_primary: bool
    departed: bool
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., title: _Optional[str] = ..., phones: _Optional[_Iterable[str]] = ..., emails: _Optional[_Iterable[str]] = ..., wechat: _Optional[str] = ..., is_primary: _Optional[bool] = ..., departed: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("id", "name", "kind", "industry_code", "region_code", "address", "scale", "tier", "deal_amount_12m", "status", "stage", "owner_id", "source_channel", "last_follow_up_at", "gender", "birthday", "preferences", "interests", "notes", "custom_fields", "contacts", "version", "created_at", "updated_at", "created_by", "updated_by", "deleted_at", "credit_limit", "outstanding_amount", "loyalty_points", "last_order_at", "consented_purposes", "id_number")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    DEAL_AMOUNT_12M_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    LAST_FOLLOW_UP_AT_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    INTERESTS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELDS_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LOYALTY_POINTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ORDER_AT_FIELD_NUMBER: _ClassVar[int]
    CONSENTED_PURPOSES_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: str
    industry_code: str
    region_code: str
    address: str
    scale: str
    tier: str
    deal_amount_12m: str
    status: str
    stage: str
    owner_id: str
    source_channel: str
    last_follow_up_at: _timestamp_pb2.Timestamp
    gender: str
    birthday: str
    preferences: _struct_pb2.Struct
    interests: _containers.RepeatedScalarFieldContainer[str]
    notes: str
    custom_fields: _struct_pb2.Struct
    contacts: _containers.RepeatedCompositeFieldContainer[Contact]
    version: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    created_by: str
    updated_by: str
    deleted_at: _timestamp_pb2.Timestamp
    credit_limit: str
    outstanding_amount: str
    loyalty_points: int
    last_order_at: _timestamp_pb2.Timestamp
    consented_purposes: _containers.RepeatedScalarFieldContainer[str]
    id_number: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., industry_code: _Optional[str] = ..., region_code: _Optional[str] = ..., address: _Optional[str] = ..., scale: _Optional[str] = ..., tier: _Optional[str] = ..., deal_amount_12m: _Optional[str] = ..., status: _Optional[str] = ..., stage: _Optional[str] = ..., owner_id: _Optional[str] = ..., source_channel: _Optional[str] = ..., last_follow_up_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gender: _Optional[str] = ..., birthday: _Optional[str] = ..., preferences: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., interests: _Optional[_Iterable[str]] = ..., notes: _Optional[str] = ..., custom_fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., contacts: _Optional[_Iterable[_Union[Contact, _Mapping]]] = ..., version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., updated_by: _Optional[str] = ..., deleted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credit_limit: _Optional[str] = ..., outstanding_amount: _Optional[str] = ..., loyalty_points: _Optional[int] = ..., last_order_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consented_purposes: _Optional[_Iterable[str]] = ..., id_number: _Optional[str] = ...) -> None: ...

class CreateCustomerRequest(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class CreateCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "as_of", "include_deleted")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    as_of: _timestamp_pb2.Timestamp
    include_deleted: bool
    def __init__(self, customer_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class GetCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class UpdateCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "expected_version", "customer", "update_mask")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    expected_version: int
    customer: Customer
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, customer_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., customer: _Optional[_Union[Customer, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class DeleteCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "expected_version")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    expected_version: int
    def __init__(self, customer_id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class RestoreCustomerRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class RestoreCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class CustomerFilter(_message.Message):
    __slots__ = ("status", "stage", "tier", "industry_code", "region_code", "owner_id", "source_channel", "kind", "scale", "name_contains", "created_from", "created_to", "updated_from", "updated_to", "include_deleted", "phone", "email", "id_number")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    NAME_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATED_TO_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FROM_FIELD_NUMBER: _ClassVar[int]
    UPDATED_TO_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    status: _containers.RepeatedScalarFieldContainer[str]
    stage: _containers.RepeatedScalarFieldContainer[str]
    tier: _containers.RepeatedScalarFieldContainer[str]
    industry_code: _containers.RepeatedScalarFieldContainer[str]
    region_code: _containers.RepeatedScalarFieldContainer[str]
    owner_id: _containers.RepeatedScalarFieldContainer[str]
    source_channel: _containers.RepeatedScalarFieldContainer[str]
    kind: _containers.RepeatedScalarFieldContainer[str]
    scale: _containers.RepeatedScalarFieldContainer[str]
    name_contains: str
    created_from: _timestamp_pb2.Timestamp
    created_to: _timestamp_pb2.Timestamp
    updated_from: _timestamp_pb2.Timestamp
    updated_to: _timestamp_pb2.Timestamp
    include_deleted: bool
    phone: str
    email: str
    id_number: str
    def __init__(self, status: _Optional[_Iterable[str]] = ..., stage: _Optional[_Iterable[str]] = ..., tier: _Optional[_Iterable[str]] = ..., industry_code: _Optional[_Iterable[str]] = ..., region_code: _Optional[_Iterable[str]] = ..., owner_id: _Optional[_Iterable[str]] = ..., source_channel: _Optional[_Iterable[str]] = ..., kind: _Optional[_Iterable[str]] = ..., scale: _Optional[_Iterable[str]] = ..., name_contains: _Optional[str] = ..., created_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., include_deleted: _Optional[bool] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., id_number: _Optional[str] = ...) -> None: ...

class ListCustomersRequest(_message.Message):
    __slots__ = ("filter", "order_by", "page")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    filter: CustomerFilter
    order_by: str
    page: _common_pb2.PageRequest
    def __init__(self, filter: _Optional[_Union[CustomerFilter, _Mapping]] = ..., order_by: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListCustomersResponse(_message.Message):
    __slots__ = ("customers", "page")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[Customer]
    page: _common_pb2.PageInfo
    def __init__(self, customers: _Optional[_Iterable[_Union[Customer, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class Revision(_message.Message):
    __slots__ = ("revision", "customer_id", "action", "actor", "at", "version", "changes", "trace_id")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    revision: int
    customer_id: str
    action: str
    actor: str
    at: _timestamp_pb2.Timestamp
    version: int
    changes: _containers.RepeatedCompositeFieldContainer[_common_pb2.FieldChange]
    trace_id: str
    def __init__(self, revision: _Optional[int] = ..., customer_id: _Optional[str] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[_common_pb2.FieldChange, _Mapping]]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class ListCustomerHistoryRequest(_message.Message):
    __slots__ = ("customer_id", "page")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page: _common_pb2.PageRequest
    def __init__(self, customer_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListCustomerHistoryResponse(_message.Message):
    __slots__ = ("revisions", "page")
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[Revision]
    page: _common_pb2.PageInfo
    def __init__(self, revisions: _Optional[_Iterable[_Union[Revision, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class Interaction(_message.Message):
    __slots__ = ("id", "customer_id", "channel", "type", "occurred_at", "summary", "by_user", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    BY_USER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    channel: str
    type: str
    occurred_at: _timestamp_pb2.Timestamp
    summary: str
    by_user: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., channel: _Optional[str] = ..., type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., summary: _Optional[str] = ..., by_user: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("id", "customer_id", "product", "quantity", "amount", "ordered_at", "channel", "external_id", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDERED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    product: str
    quantity: int
    amount: str
    ordered_at: _timestamp_pb2.Timestamp
    channel: str
    external_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., product: _Optional[str] = ..., quantity: _Optional[int] = ..., amount: _Optional[str] = ..., ordered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[str] = ..., external_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Contract(_message.Message):
    __slots__ = ("id", "customer_id", "number", "title", "amount", "signed_on", "starts_on", "ends_on", "status", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SIGNED_ON_FIELD_NUMBER: _ClassVar[int]
    STARTS_ON_FIELD_NUMBER: _ClassVar[int]
    ENDS_ON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    number: str
    title: str
    amount: str
    signed_on: str
    starts_on: str
    ends_on: str
    status: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., number: _Optional[str] = ..., title: _Optional[str] = ..., amount: _Optional[str] = ..., signed_on: _Optional[str] = ..., starts_on: _Optional[str] = ..., ends_on: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ServiceRecord(_message.Message):
    __slots__ = ("id", "customer_id", "category", "subject", "description", "satisfaction", "status", "opened_at", "resolved_at", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    category: str
    subject: str
    description: str
    satisfaction: int
    status: str
    opened_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., category: _Optional[str] = ..., subject: _Optional[str] = ..., description: _Optional[str] = ..., satisfaction: _Optional[int] = ..., status: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListRelatedRequest(_message.Message):
    __slots__ = ("customer_id", "page")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page: _common_pb2.PageRequest
    def __init__(self, customer_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class CreateContactRequest(_message.Message):
    __slots__ = ("customer_id", "contact")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    contact: Contact
    def __init__(self, customer_id: _Optional[str] = ..., contact: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class CreateContactResponse(_message.Message):
    __slots__ = ("contact",)
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ...) -> None: ...

class ListContactsResponse(_message.Message):
    __slots__ = ("contacts", "page")
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    contacts: _containers.RepeatedCompositeFieldContainer[Contact]
    page: _common_pb2.PageInfo
    def __init__(self, contacts: _Optional[_Iterable[_Union[Contact, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class CreateInteractionRequest(_message.Message):
    __slots__ = ("customer_id", "interaction")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    interaction: Interaction
    def __init__(self, customer_id: _Optional[str] = ..., interaction: _Optional[_Union[Interaction, _Mapping]] = ...) -> None: ...

class CreateInteractionResponse(_message.Message):
    __slots__ = ("interaction",)
    INTERACTION_FIELD_NUMBER: _ClassVar[int]
    interaction: Interaction
    def __init__(self, interaction: _Optional[_Union[Interaction, _Mapping]] = ...) -> None: ...

class ListInteractionsResponse(_message.Message):
    __slots__ = ("interactions", "page")
    INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    interactions: _containers.RepeatedCompositeFieldContainer[Interaction]
    page: _common_pb2.PageInfo
    def __init__(self, interactions: _Optional[_Iterable[_Union[Interaction, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class CreateOrderRequest(_message.Message):
    __slots__ = ("customer_id", "order")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    order: Order
    def __init__(self, customer_id: _Optional[str] = ..., order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class CreateOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "page")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    page: _common_pb2.PageInfo
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class CreateContractRequest(_message.Message):
    __slots__ = ("customer_id", "contract")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    contract: Contract
    def __init__(self, customer_id: _Optional[str] = ..., contract: _Optional[_Union[Contract, _Mapping]] = ...) -> None: ...

class CreateContractResponse(_message.Message):
    __slots__ = ("contract",)
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    contract: Contract
    def __init__(self, contract: _Optional[_Union[Contract, _Mapping]] = ...) -> None: ...

class ListContractsResponse(_message.Message):
    __slots__ = ("contracts", "page")
    CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    contracts: _containers.RepeatedCompositeFieldContainer[Contract]
    page: _common_pb2.PageInfo
    def __init__(self, contracts: _Optional[_Iterable[_Union[Contract, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class CreateServiceRecordRequest(_message.Message):
    __slots__ = ("customer_id", "service_record")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_RECORD_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    service_record: ServiceRecord
    def __init__(self, customer_id: _Optional[str] = ..., service_record: _Optional[_Union[ServiceRecord, _Mapping]] = ...) -> None: ...

class CreateServiceRecordResponse(_message.Message):
    __slots__ = ("service_record",)
    SERVICE_RECORD_FIELD_NUMBER: _ClassVar[int]
    service_record: ServiceRecord
    def __init__(self, service_record: _Optional[_Union[ServiceRecord, _Mapping]] = ...) -> None: ...

class ListServiceRecordsResponse(_message.Message):
    __slots__ = ("service_records", "page")
    SERVICE_RECORDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    service_records: _containers.RepeatedCompositeFieldContainer[ServiceRecord]
    page: _common_pb2.PageInfo
    def __init__(self, service_records: _Optional[_Iterable[_Union[ServiceRecord, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class CustomerView(_message.Message):
    __slots__ = ("customer", "recent_interactions", "recent_orders", "contracts", "recent_service_records", "interaction_count", "order_count", "lifetime_order_amount", "last_interaction_at", "last_order_at", "open_service_records")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    RECENT_INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    RECENT_ORDERS_FIELD_NUMBER: _ClassVar[int]
    CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    RECENT_SERVICE_RECORDS_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_ORDER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_INTERACTION_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ORDER_AT_FIELD_NUMBER: _ClassVar[int]
    OPEN_SERVICE_RECORDS_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    recent_interactions: _containers.RepeatedCompositeFieldContainer[Interaction]
    recent_orders: _containers.RepeatedCompositeFieldContainer[Order]
    contracts: _containers.RepeatedCompositeFieldContainer[Contract]
    recent_service_records: _containers.RepeatedCompositeFieldContainer[ServiceRecord]
    interaction_count: int
    order_count: int
    lifetime_order_amount: str
    last_interaction_at: _timestamp_pb2.Timestamp
    last_order_at: _timestamp_pb2.Timestamp
    open_service_records: int
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., recent_interactions: _Optional[_Iterable[_Union[Interaction, _Mapping]]] = ..., recent_orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., contracts: _Optional[_Iterable[_Union[Contract, _Mapping]]] = ..., recent_service_records: _Optional[_Iterable[_Union[ServiceRecord, _Mapping]]] = ..., interaction_count: _Optional[int] = ..., order_count: _Optional[int] = ..., lifetime_order_amount: _Optional[str] = ..., last_interaction_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_order_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., open_service_records: _Optional[int] = ...) -> None: ...

class GetCustomerViewRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetCustomerViewResponse(_message.Message):
    __slots__ = ("view",)
    VIEW_FIELD_NUMBER: _ClassVar[int]
    view: CustomerView
    def __init__(self, view: _Optional[_Union[CustomerView, _Mapping]] = ...) -> None: ...

class CustomField(_message.Message):
    __slots__ = ("key", "label", "type", "options", "required", "max_length", "created_at")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    type: str
    options: _containers.RepeatedScalarFieldContainer[str]
    required: bool
    max_length: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., type: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., required: _Optional[bool] = ..., max_length: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCustomFieldsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCustomFieldsResponse(_message.Message):
    __slots__ = ("custom_fields",)
    CUSTOM_FIELDS_FIELD_NUMBER: _ClassVar[int]
    custom_fields: _containers.RepeatedCompositeFieldContainer[CustomField]
    def __init__(self, custom_fields: _Optional[_Iterable[_Union[CustomField, _Mapping]]] = ...) -> None: ...

class CreateCustomFieldRequest(_message.Message):
    __slots__ = ("custom_field",)
    CUSTOM_FIELD_FIELD_NUMBER: _ClassVar[int]
    custom_field: CustomField
    def __init__(self, custom_field: _Optional[_Union[CustomField, _Mapping]] = ...) -> None: ...

class CreateCustomFieldResponse(_message.Message):
    __slots__ = ("custom_field",)
    CUSTOM_FIELD_FIELD_NUMBER: _ClassVar[int]
    custom_field: CustomField
    def __init__(self, custom_field: _Optional[_Union[CustomField, _Mapping]] = ...) -> None: ...

class Change(_message.Message):
    __slots__ = ("position", "customer_id", "action", "version", "at", "customer", "traceparent")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    position: int
    customer_id: str
    action: str
    version: int
    at: _timestamp_pb2.Timestamp
    customer: Customer
    traceparent: str
    def __init__(self, position: _Optional[int] = ..., customer_id: _Optional[str] = ..., action: _Optional[str] = ..., version: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., customer: _Optional[_Union[Customer, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...

class ReadChangesRequest(_message.Message):
    __slots__ = ("after_position", "limit")
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after_position: int
    limit: int
    def __init__(self, after_position: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ReadChangesResponse(_message.Message):
    __slots__ = ("changes", "head_position")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    HEAD_POSITION_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[Change]
    head_position: int
    def __init__(self, changes: _Optional[_Iterable[_Union[Change, _Mapping]]] = ..., head_position: _Optional[int] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("id", "customer_id", "purpose", "channel", "given_at", "recorded_by", "evidence", "withdrawn_at", "withdrawn_by", "active")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GIVEN_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_BY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    purpose: str
    channel: str
    given_at: _timestamp_pb2.Timestamp
    recorded_by: str
    evidence: str
    withdrawn_at: _timestamp_pb2.Timestamp
    withdrawn_by: str
    active: bool
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., purpose: _Optional[str] = ..., channel: _Optional[str] = ..., given_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_by: _Optional[str] = ..., evidence: _Optional[str] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., withdrawn_by: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class GiveConsentRequest(_message.Message):
    __slots__ = ("customer_id", "consent")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    consent: Consent
    def __init__(self, customer_id: _Optional[str] = ..., consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class GiveConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class WithdrawConsentRequest(_message.Message):
    __slots__ = ("customer_id", "consent_id")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    consent_id: str
    def __init__(self, customer_id: _Optional[str] = ..., consent_id: _Optional[str] = ...) -> None: ...

class WithdrawConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class ListConsentsRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class ListConsentsResponse(_message.Message):
    __slots__ = ("consents",)
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    def __init__(self, consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ...) -> None: ...

class ExportPersonalDataRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class ExportPersonalDataResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _struct_pb2.Struct
    def __init__(self, data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ErasePersonalDataRequest(_message.Message):
    __slots__ = ("customer_id", "reason")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    reason: str
    def __init__(self, customer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ErasePersonalDataResponse(_message.Message):
    __slots__ = ("customer_id", "removed", "key_destroyed")
    class RemovedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    KEY_DESTROYED_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    removed: _containers.ScalarMap[str, int]
    key_destroyed: bool
    def __init__(self, customer_id: _Optional[str] = ..., removed: _Optional[_Mapping[str, int]] = ..., key_destroyed: _Optional[bool] = ...) -> None: ...
